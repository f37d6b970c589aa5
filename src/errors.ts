// The one catalogue of firebreak's errors. Each class has a stable `code` that the README's
// troubleshooting table documents; messages say what, where, and what to do.

export abstract class FirebreakError extends Error {
  abstract readonly code: string;
}

/** One problem in a config or profile file, located by file:line:column and key path. */
export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** e.g. `devices[2].profile` */
  readonly path: string;
  readonly message: string;
}

export function formatConfigIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.column} ${i.path === "" ? "(document)" : i.path}: ${i.message}`;
}

/** The config (or a profile it names) is invalid; nothing of it was loaded. Exit code 2. */
export class ConfigError extends FirebreakError {
  readonly code = "FB_CONFIG";
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(issues.map(formatConfigIssue).join("\n"));
    this.name = "ConfigError";
  }
}

/** A file the config names (password file, certificate, profile) could not be read. */
export class FileReadError extends FirebreakError {
  readonly code = "FB_FILE_READ";
  constructor(readonly file: string, cause: unknown) {
    super(`cannot read ${file}: ${cause instanceof Error ? cause.message : String(cause)}; check the path and its permissions`);
    this.name = "FileReadError";
  }
}

/** A device answered with a Modbus exception or a frame that does not fit the request. */
export class DeviceProtocolError extends FirebreakError {
  readonly code = "FB_DEVICE_PROTOCOL";
  constructor(readonly device: string, message: string) {
    super(`device ${device}: ${message}`);
    this.name = "DeviceProtocolError";
  }
}

/** A Modbus device answered with an exception response (MODBUS Application Protocol v1.1b3 §7). */
export class ModbusExceptionError extends DeviceProtocolError {
  constructor(device: string, readonly exceptionCode: number, readonly detail: string) {
    super(device, detail);
    this.name = "ModbusExceptionError";
  }
}

/** A Modbus TCP response that does not fit its request; `field` names what is wrong (e.g. "byte count"). */
export class ModbusFrameError extends DeviceProtocolError {
  constructor(device: string, readonly field: string, readonly detail: string) {
    super(device, `malformed response: ${detail}`);
    this.name = "ModbusFrameError";
  }
}

/** A SunSpec device map did not match what the site config says the device holds. */
export class DeviceLayoutError extends FirebreakError {
  readonly code = "FB_DEVICE_LAYOUT";
  constructor(readonly device: string, message: string) {
    super(`device ${device}: ${message}; fix the device's layout in the site config or the device`);
    this.name = "DeviceLayoutError";
  }
}

/** A value that has no canonical JSON form (NaN, undefined, a Date …), so it cannot be signed. */
export class CanonicalJsonError extends FirebreakError {
  readonly code = "FB_CANONICAL_JSON";
  constructor(readonly path: string, why: string) {
    super(`${path}: ${why}; only null, booleans, finite numbers, strings, arrays and plain objects can be signed`);
    this.name = "CanonicalJsonError";
  }
}

/** An operator's key file is missing, unreadable or not the Ed25519 key it should be. */
export class KeyFileError extends FirebreakError {
  readonly code = "FB_KEY";
  constructor(readonly file: string, why: string) {
    super(`${file}: ${why}`);
    this.name = "KeyFileError";
  }
}

/** An id (site, zone, alarm, device, point) that cannot be one MQTT topic level. */
export class MqttTopicError extends FirebreakError {
  readonly code = "FB_MQTT_TOPIC";
  constructor(readonly what: string, readonly id: string, why: string) {
    super(`${what} "${id}" cannot be used in an MQTT topic: ${why}; use letters, digits, '-', '_', '.', ':'`);
    this.name = "MqttTopicError";
  }
}

/** The server's certificate is not in our trusted/ folder, or the server refused ours. */
export class OpcuaCertificateError extends FirebreakError {
  readonly code = "FB_OPCUA_CERTIFICATE";
  constructor(readonly device: string, message: string) {
    super(`device ${device}: ${message}`);
    this.name = "OpcuaCertificateError";
  }
}

/** The server refused the user identity (wrong password, unknown user, untrusted user certificate). */
export class OpcuaIdentityError extends FirebreakError {
  readonly code = "FB_OPCUA_IDENTITY";
  constructor(readonly device: string, message: string) {
    super(`device ${device}: ${message}`);
    this.name = "OpcuaIdentityError";
  }
}

/** The server has no endpoint with the configured security, or not the profile's namespace. */
export class OpcuaServerMismatchError extends FirebreakError {
  readonly code = "FB_OPCUA_MISMATCH";
  constructor(readonly device: string, message: string) {
    super(`device ${device}: ${message}`);
    this.name = "OpcuaServerMismatchError";
  }
}

/** The certificate to trust could not be found or read. */
export class TrustError extends FirebreakError {
  readonly code = "FB_OPCUA_TRUST";
  constructor(message: string) {
    super(message);
    this.name = "TrustError";
  }
}

/** The state store (state_dir) cannot be opened, is held by another process, or is damaged. */
export class StateStoreError extends FirebreakError {
  readonly code = "FB_STATE";
  constructor(message: string) {
    super(message);
    this.name = "StateStoreError";
  }
}

/** A saved alarm state that this version cannot continue from (src/alarms/state.ts). */
export class AlarmStateError extends FirebreakError {
  readonly code = "FB_ALARM_STATE";
  constructor(message: string) {
    super(`${message}; the alarm state was not restored`);
    this.name = "AlarmStateError";
  }
}

/**
 * A protective action's write was not carried out (src/actions/): the device is not connected, the
 * target is not a writable point, the device refused it, or it targets a suppression-release panel.
 */
export class ActionWriteError extends FirebreakError {
  readonly code = "FB_ACTION_WRITE";
  readonly device: string;
  readonly point: string;
  constructor(device: string, point: string, detail: string) {
    super(`write to ${device}/${point} not carried out: ${detail}`);
    this.name = "ActionWriteError";
    this.device = device;
    this.point = point;
  }
}

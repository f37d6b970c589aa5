// OPC UA failures that need a person: an untrusted certificate, a refused identity, a namespace the
// server does not have. Each says what to do; codes are stable (the README lists them).
// They live here, not in src/errors.ts, because that catalogue is shared and owned elsewhere.
import { FirebreakError } from "../../errors.js";

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

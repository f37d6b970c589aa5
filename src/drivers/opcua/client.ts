// Builds node-opcua clients from firebreak's OPC UA settings: security mode and policy, the PKI
// folder (own certificate made on first use, server certificates trusted or rejected there), the
// user identity; and turns node-opcua's connection errors into ones that say what to do.
import { X509Certificate } from "node:crypto";
import { hostname } from "node:os";
import {
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  UserTokenType,
  type UserIdentityInfo,
} from "node-opcua";
import type { OpcuaClientConfig } from "../../config/types.js";
import { OpcuaCertificateError, OpcuaIdentityError, OpcuaServerMismatchError } from "./errors.js";

/** One application URI for the daemon: its certificate names it, whichever device it talks to. */
export const APPLICATION_URI = `urn:${hostname()}:firebreak`;

/**
 * Keep-alive count: with nothing to report, the server still answers every publishing interval x 3
 * (firebreak's choice: a silent server is noticed within seconds, not the 10 intervals default).
 */
export const OPCUA_KEEPALIVE_COUNT = 3;

export function securityModeOf(c: Pick<OpcuaClientConfig, "securityMode">): MessageSecurityMode {
  switch (c.securityMode) {
    case "None":
      return MessageSecurityMode.None;
    case "Sign":
      return MessageSecurityMode.Sign;
    case "SignAndEncrypt":
      return MessageSecurityMode.SignAndEncrypt;
  }
}

export function securityPolicyOf(c: Pick<OpcuaClientConfig, "securityPolicy">): SecurityPolicy {
  switch (c.securityPolicy) {
    case "None":
      return SecurityPolicy.None;
    case "Basic256Sha256":
      return SecurityPolicy.Basic256Sha256;
    case "Aes128_Sha256_RsaOaep":
      return SecurityPolicy.Aes128_Sha256_RsaOaep;
  }
}

export function userIdentityOf(c: Pick<OpcuaClientConfig, "user">): UserIdentityInfo {
  const u = c.user;
  switch (u.type) {
    case "anonymous":
      return { type: UserTokenType.Anonymous };
    case "username":
      return { type: UserTokenType.UserName, userName: u.username, password: u.password };
    case "certificate":
      return { type: UserTokenType.Certificate, certificateData: new X509Certificate(u.certificate).raw, privateKey: u.privateKey };
  }
}

/** The PKI folder's certificate manager; unknown server certificates go to rejected/, never trusted silently. */
export async function certificateManager(pkiDir: string): Promise<OPCUACertificateManager> {
  const cm = new OPCUACertificateManager({ rootFolder: pkiDir, automaticallyAcceptUnknownCertificate: false, disableFileWatchers: true });
  await cm.initialize();
  return cm;
}

export interface ClientOptions {
  readonly config: OpcuaClientConfig;
  readonly certificateManager: OPCUACertificateManager;
  /** Tries of the first connect before it is reported and retried on firebreak's own schedule. */
  readonly connectTries?: number;
}

export function createClient(o: ClientOptions): OPCUAClient {
  return OPCUAClient.create({
    applicationName: "firebreak",
    applicationUri: APPLICATION_URI,
    clientName: "firebreak",
    securityMode: securityModeOf(o.config),
    securityPolicy: securityPolicyOf(o.config),
    clientCertificateManager: o.certificateManager,
    endpointMustExist: false,
    keepSessionAlive: true,
    requestedSessionTimeout: 60_000,
    // maxRetry > 0 also switches on node-opcua's own reconnection once connected (it then retries
    // forever and transfers or re-creates the subscription); the first connect we retry ourselves.
    connectionStrategy: { maxRetry: o.connectTries ?? 1, initialDelay: 250, maxDelay: 2_000, randomisationFactor: 0.2 },
  });
}

/** What went wrong, in words an operator can act on, and whether it needs a person (no fast retry). */
export interface ConnectFailure {
  readonly error: Error;
  /** A certificate or identity problem: retrying quickly will not fix it. */
  readonly needsOperator: boolean;
}

export function explainConnectFailure(device: string, c: OpcuaClientConfig, e: unknown, stage: "connect" | "session"): ConnectFailure {
  const msg = e instanceof Error ? e.message : String(e);
  if (/BadCertificateUntrusted|certificate.*(untrusted|rejected|not trusted)|BadSecurityChecksFailed.*server certificate/i.test(msg) && stage === "connect" && !/client certificate/i.test(msg)) {
    return {
      needsOperator: true,
      error: new OpcuaCertificateError(device, `the server at ${c.endpoint} presented a certificate that is not trusted; it was put in ${c.pkiDir}/rejected. Check it is the right server, then run \`firebreak opcua trust --pki ${c.pkiDir} <thumbprint|file>\` (node-opcua: ${firstLine(msg)})`),
    };
  }
  if (/BadSecurityChecksFailed|BadCertificate/i.test(msg) && stage === "connect") {
    return {
      needsOperator: true,
      error: new OpcuaCertificateError(device, `the server at ${c.endpoint} refused the secure channel: it probably does not trust firebreak's certificate (${c.pkiDir}/own/certs); add that certificate to the server's trusted list (node-opcua: ${firstLine(msg)})`),
    };
  }
  if (/BadUserAccessDenied|BadIdentityTokenInvalid|BadIdentityTokenRejected|BadUserSignatureInvalid/i.test(msg)) {
    const who = c.user.type === "username" ? `user "${c.user.username}" (check the password file)` : c.user.type === "certificate" ? `the user certificate ${c.user.certFile} (is it trusted by the server?)` : "anonymous access (the server may require a user)";
    return { needsOperator: true, error: new OpcuaIdentityError(device, `the server at ${c.endpoint} refused ${who} (node-opcua: ${firstLine(msg)})`) };
  }
  if (/cannot find endpoint|no endpoint|BadSecurityPolicyRejected|BadSecurityModeRejected|endpoint.*(security|mode)/i.test(msg)) {
    return {
      needsOperator: true,
      error: new OpcuaServerMismatchError(device, `the server at ${c.endpoint} offers no endpoint with security ${c.securityMode}/${c.securityPolicy}; \`firebreak opcua browse ${c.endpoint}\` lists what it offers (node-opcua: ${firstLine(msg)})`),
    };
  }
  return { needsOperator: false, error: new Error(`${stage === "connect" ? "cannot connect to" : "cannot open a session on"} ${c.endpoint}: ${firstLine(msg)}`) };
}

function firstLine(s: string): string {
  return (s.split("\n").find((l) => l.trim() !== "") ?? s).trim().slice(0, 300);
}

// `firebreak opcua browse` and `firebreak opcua trust`: commissioning an OPC UA device. Browse
// lists a server's address space (node ids, data types, values) to write a profile from; trust
// moves a rejected server certificate into the PKI folder's trusted list.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { OpcuaClientConfig, OpcuaSecurityMode, OpcuaSecurityPolicy, OpcuaUser } from "../config/types.js";
import { FileReadError } from "../errors.js";
import { browseAddressSpace, type BrowsedNode } from "../drivers/opcua/browse.js";
import { certificateManager, createClient, explainConnectFailure, userIdentityOf } from "../drivers/opcua/client.js";
import { listCertificates, trustCertificate } from "../drivers/opcua/trust.js";

export interface OpcuaBrowseOptions {
  readonly endpoint: string;
  /** Start node, absolute (`ns=2;s=Bms`, `i=85`); default the Objects folder. */
  readonly node?: string;
  /** Levels below the start node (default 4). */
  readonly depth?: number;
  /** Default SignAndEncrypt with Basic256Sha256, as a device's config defaults to. */
  readonly securityMode?: OpcuaSecurityMode;
  readonly securityPolicy?: OpcuaSecurityPolicy;
  readonly username?: string;
  /** The password is read from this file, never taken on the command line. */
  readonly passwordFile?: string;
  /** X.509 user identity: certificate and private key files (PEM). */
  readonly userCertFile?: string;
  readonly userKeyFile?: string;
  /** PKI folder (default `pki/opcua`, as in a site config next to it). */
  readonly pki?: string;
  /** One JSON object per node instead of the indented listing. */
  readonly json?: boolean;
  readonly out?: (line: string) => void;
}

export interface OpcuaTrustOptions {
  /** A certificate file, or the thumbprint (or a unique prefix) of a certificate in `<pki>/rejected`. */
  readonly certificate: string;
  readonly pki?: string;
  readonly out?: (line: string) => void;
}

export interface OpcuaListOptions {
  readonly pki?: string;
  readonly out?: (line: string) => void;
}

const DEFAULT_PKI = "pki/opcua";

/** Browse a server; throws an OpcuaCertificateError / OpcuaIdentityError / OpcuaServerMismatchError that says what to do. */
export async function opcuaBrowse(o: OpcuaBrowseOptions): Promise<BrowsedNode[]> {
  const out = o.out ?? ((l: string) => console.log(l));
  const securityMode = o.securityMode ?? "SignAndEncrypt";
  const config: OpcuaClientConfig = {
    endpoint: o.endpoint,
    securityMode,
    securityPolicy: o.securityPolicy ?? (securityMode === "None" ? "None" : "Basic256Sha256"),
    user: await userOf(o),
    pkiDir: resolve(o.pki ?? DEFAULT_PKI),
    publishingIntervalMs: 1000,
  };
  const cm = await certificateManager(config.pkiDir);
  const client = createClient({ config, certificateManager: cm, connectTries: 1 });
  let stage: "connect" | "session" = "connect";
  try {
    await client.connect(config.endpoint);
    stage = "session";
    const session = await client.createSession(userIdentityOf(config));
    try {
      const { nodes, namespaces, truncated } = await browseAddressSpace(session, { ...(o.node ? { start: o.node } : {}), ...(o.depth !== undefined ? { depth: o.depth } : {}) });
      if (o.json) for (const n of nodes) out(JSON.stringify(n));
      else {
        out(`${config.endpoint} (${config.securityMode}/${config.securityPolicy})`);
        out(`namespaces: ${namespaces.map((u, i) => `${i}=${u}`).join("  ")}`);
        out("a profile names the namespace by URI (namespace_uri) and each node by the id after ns=<index>;");
        for (const n of nodes) out(formatNode(n));
        if (truncated) out(`… stopped after ${nodes.length} nodes: browse a sub-tree with --node <id> or fewer levels with --depth`);
      }
      return nodes;
    } finally {
      await session.close().catch(() => undefined);
    }
  } catch (e) {
    if (e instanceof Error && e.name.startsWith("Opcua")) throw e;
    throw explainConnectFailure("browse", config, e, stage).error;
  } finally {
    await client.disconnect().catch(() => undefined);
    await cm.dispose();
  }
}

/** Trust a server certificate; returns its thumbprint. Throws TrustError naming the rejected ones when nothing matches. */
export async function opcuaTrust(o: OpcuaTrustOptions): Promise<string> {
  const out = o.out ?? ((l: string) => console.log(l));
  const pki = resolve(o.pki ?? DEFAULT_PKI);
  const info = await trustCertificate(pki, o.certificate);
  out(`trusted ${info.thumbprint} (${info.subject}, valid to ${info.validTo}) in ${pki}/trusted/certs; devices using this PKI folder connect on their next retry`);
  return info.thumbprint;
}

/** List rejected and trusted server certificates with their thumbprints (what `opcua trust` takes). */
export async function opcuaListCertificates(o: OpcuaListOptions): Promise<void> {
  const out = o.out ?? ((l: string) => console.log(l));
  const pki = resolve(o.pki ?? DEFAULT_PKI);
  for (const folder of ["rejected", "trusted/certs"] as const) {
    const certs = await listCertificates(pki, folder);
    out(`${folder} (${certs.length}):`);
    for (const c of certs) out(`  ${c.thumbprint}  ${c.subject}  valid to ${c.validTo}`);
  }
}

function formatNode(n: BrowsedNode): string {
  const indent = "  ".repeat(n.depth);
  if (n.nodeClass === "Object") return `${indent}${n.browseName}/  ${n.relative}`;
  const reading = n.value !== undefined ? `= ${n.value}` : `(${n.status ?? "no value"})`;
  return `${indent}${n.browseName}  ${n.relative}  ${n.dataType ?? "?"}  ${reading}`;
}

async function userOf(o: OpcuaBrowseOptions): Promise<OpcuaUser> {
  const read = async (file: string): Promise<string> => {
    try {
      return await readFile(file, "utf8");
    } catch (e) {
      throw new FileReadError(file, e);
    }
  };
  if (o.userCertFile !== undefined || o.userKeyFile !== undefined) {
    if (o.userCertFile === undefined || o.userKeyFile === undefined) throw new FileReadError(o.userCertFile ?? o.userKeyFile ?? "", new Error("--user-cert and --user-key go together"));
    return { type: "certificate", certFile: o.userCertFile, certificate: await read(o.userCertFile), privateKey: await read(o.userKeyFile) };
  }
  if (o.username !== undefined) {
    if (o.passwordFile === undefined) throw new FileReadError("--password-file", new Error(`user ${o.username} needs --password-file (passwords are never taken on the command line)`));
    return { type: "username", username: o.username, password: (await read(o.passwordFile)).replace(/\r?\n$/, "") };
  }
  return { type: "anonymous" };
}

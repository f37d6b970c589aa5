// The PKI folder's trust decisions: list rejected server certificates with their thumbprints, and
// trust one (by thumbprint from rejected/, or from a file the server's operator handed over).
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { TrustError } from "../../errors.js";

export { TrustError };
import { certificateManager } from "./client.js";

export interface CertificateInfo {
  /** SHA-1 of the DER certificate, lower-case hex without colons (as OPC UA tools show it). */
  readonly thumbprint: string;
  readonly subject: string;
  readonly validTo: string;
  readonly file: string;
  readonly der: Buffer;
}

export function certificateInfo(data: Buffer | string, file: string): CertificateInfo {
  const cert = new X509Certificate(data);
  return { thumbprint: cert.fingerprint.replaceAll(":", "").toLowerCase(), subject: cert.subject.replaceAll("\n", ", "), validTo: cert.validTo, file, der: cert.raw };
}

/** Certificates in `<pki>/<folder>` (rejected/ or trusted/certs), unreadable files skipped. */
export async function listCertificates(pkiDir: string, folder: "rejected" | "trusted/certs"): Promise<CertificateInfo[]> {
  const dir = join(pkiDir, folder);
  if (!existsSync(dir)) return [];
  const out: CertificateInfo[] = [];
  for (const name of (await readdir(dir)).filter((n) => /\.(pem|der|crt|cer)$/i.test(n)).sort()) {
    try {
      out.push(certificateInfo(await readFile(join(dir, name)), join(dir, name)));
    } catch {
      // not a certificate (a key, a stray file): not ours to judge here
    }
  }
  return out;
}


/**
 * Trust a server certificate: `what` is a certificate file (PEM or DER), or a thumbprint (or a
 * unique prefix of at least 8 hex digits, colons allowed) of a certificate in rejected/.
 */
export async function trustCertificate(pkiDir: string, what: string): Promise<CertificateInfo> {
  let info: CertificateInfo;
  if (existsSync(what)) {
    try {
      info = certificateInfo(await readFile(what), what);
    } catch (e) {
      throw new TrustError(`${what} is not an X.509 certificate (PEM or DER): ${(e as Error).message}`);
    }
  } else {
    const want = what.replaceAll(":", "").toLowerCase();
    if (!/^[0-9a-f]{8,40}$/.test(want)) throw new TrustError(`"${what}" is neither a file nor a thumbprint (8 to 40 hex digits)`);
    const rejected = await listCertificates(pkiDir, "rejected");
    const hits = rejected.filter((c) => c.thumbprint.startsWith(want));
    if (hits.length !== 1) {
      const list = rejected.map((c) => `  ${c.thumbprint}  ${c.subject}`).join("\n") || "  (none)";
      throw new TrustError(`${hits.length === 0 ? "no" : "more than one"} rejected certificate matches ${what} in ${join(pkiDir, "rejected")}; rejected certificates:\n${list}`);
    }
    info = hits[0]!;
  }
  const cm = await certificateManager(pkiDir);
  try {
    await cm.trustCertificate(info.der);
  } finally {
    await cm.dispose();
  }
  return info;
}

/** The thumbprint of the most recently rejected certificate, as named in rejected/ ("CN[thumbprint].pem"). */
export async function newestRejected(pkiDir: string): Promise<string | undefined> {
  try {
    const dir = join(pkiDir, "rejected");
    const files = await Promise.all((await readdir(dir)).map(async (f) => ({ f, t: (await stat(join(dir, f))).mtimeMs })));
    const newest = files.sort((a, b) => b.t - a.t)[0]?.f;
    return newest?.match(/\[([0-9a-f]{40})\]/i)?.[1] ?? newest;
  } catch {
    return undefined;
  }
}

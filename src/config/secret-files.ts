// Password, certificate and key files named in a config, read once at load through the bounded
// reader (./config-file.ts) and checked for content: an empty password or a file that is not PEM
// is refused here, at load, rather than found by a broker or server refusing us at 3 a.m.
import { resolve } from "node:path";
import { fileLimits, readConfigFile, type FileRead } from "./config-file.js";

/** `password`: one line, its trailing newline dropped. `pem`: a PEM certificate, CA bundle or key. */
export type SecretKind = "password" | "pem";

/**
 * Read the file `p` (relative to `baseDir`) as a secret of `kind`. On failure `reason` is a whole
 * sentence naming the file; the caller locates it at the key that names the file.
 */
export async function readSecretFile(baseDir: string, p: string, kind: SecretKind): Promise<FileRead> {
  const path = resolve(baseDir, p);
  const r = await readConfigFile(path, kind === "password" ? fileLimits.password : fileLimits.pem);
  if (!r.ok) return { ok: false, reason: `cannot read ${p}: ${r.reason}` };
  if (r.text.trim() === "") return { ok: false, reason: `${p} is empty${r.text === "" ? "" : " (only whitespace)"}; put the ${kind === "password" ? "password" : "PEM text"} in it` };
  if (kind === "password") {
    const password = r.text.replace(/\r?\n$/, "");
    if (/[\r\n]/.test(password)) return { ok: false, reason: `${p} holds more than one line; a password file holds the password alone` };
    return { ok: true, text: password };
  }
  if (!r.text.includes("-----BEGIN ")) return { ok: false, reason: `${p} is not PEM (no "-----BEGIN" line); convert a DER file with \`openssl x509 -inform der -in FILE -out FILE.pem\`` };
  return r;
}

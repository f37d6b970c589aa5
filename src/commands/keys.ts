// Operators' Ed25519 keys: making a pair (`firebreak ctl keygen`), reading them from PEM files
// with errors that name the file and what is wrong, and the operator id -> key map verifyCommand
// takes. Private keys are PKCS#8 PEM, public keys SPKI PEM: what `openssl genpkey -algorithm
// ed25519` and `openssl pkey -pubout` write, so keys made either way work.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { constants } from "node:fs";
import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KeyFileError } from "../errors.js";

export { KeyFileError };

export interface KeyPairPem {
  /** PKCS#8 PEM: stays with the operator. */
  readonly privateKeyPem: string;
  /** SPKI PEM: goes into the site config's `operators`. */
  readonly publicKeyPem: string;
}

export function generateOperatorKeyPair(): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519", {
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** An Ed25519 public key from SPKI PEM text; `file` names where it came from in the error. */
export function publicKeyFromPem(pem: string, file: string): KeyObject {
  if (/-----BEGIN (ENCRYPTED |OPENSSH |)PRIVATE KEY-----/.test(pem)) {
    throw new KeyFileError(file, "holds a private key; the config needs the public key (the .pub file). Keep the private key with the operator");
  }
  if (!pem.includes("-----BEGIN PUBLIC KEY-----")) throw new KeyFileError(file, 'is not a PEM public key (no "-----BEGIN PUBLIC KEY-----" line); make one with `firebreak ctl keygen`');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: "pem" });
  } catch (e) {
    throw new KeyFileError(file, `is not a readable public key: ${(e as Error).message}`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new KeyFileError(file, `is a ${key.asymmetricKeyType ?? "unknown"} key; operator keys are Ed25519 (\`firebreak ctl keygen\`)`);
  return key;
}

/** An Ed25519 private key from PKCS#8 PEM text. Encrypted keys are not supported (yet). */
export function privateKeyFromPem(pem: string, file: string): KeyObject {
  if (pem.includes("-----BEGIN PUBLIC KEY-----")) throw new KeyFileError(file, "holds a public key; signing needs the private key (the .key file)");
  if (pem.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----")) throw new KeyFileError(file, "is an encrypted private key; give an unencrypted PKCS#8 key (protect it with file permissions, mode 0600)");
  if (pem.includes("-----BEGIN OPENSSH PRIVATE KEY-----")) throw new KeyFileError(file, "is an OpenSSH key; give a PKCS#8 PEM key (`firebreak ctl keygen`, or `openssl genpkey -algorithm ed25519`)");
  if (!pem.includes("-----BEGIN PRIVATE KEY-----")) throw new KeyFileError(file, 'is not a PEM private key (no "-----BEGIN PRIVATE KEY-----" line)');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch (e) {
    throw new KeyFileError(file, `is not a readable private key: ${(e as Error).message}`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new KeyFileError(file, `is a ${key.asymmetricKeyType ?? "unknown"} key; operator keys are Ed25519`);
  return key;
}

async function readKeyFile(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : code === "EACCES" ? "cannot be read (permission denied)" : code === "EISDIR" ? "is a directory, not a key file" : `cannot be read: ${(e as Error).message}`;
    throw new KeyFileError(file, why);
  }
}

export async function loadPublicKey(file: string): Promise<KeyObject> {
  return publicKeyFromPem(await readKeyFile(file), file);
}

export async function loadPrivateKey(file: string): Promise<KeyObject> {
  return privateKeyFromPem(await readKeyFile(file), file);
}

/** The map verifyCommand takes, from the loaded config's `operators` (their keys were checked at load). */
export function operatorKeys(operators: readonly { readonly id: string; readonly publicKeyPem: string }[]): Map<string, KeyObject> {
  return new Map(operators.map((o) => [o.id, publicKeyFromPem(o.publicKeyPem, `operator ${o.id}`)]));
}

export interface WrittenKeyPair {
  readonly keyFile: string;
  readonly pubFile: string;
  readonly publicKeyPem: string;
}

/**
 * Writes `<dir>/<name>.key` (mode 0600) and `<dir>/<name>.pub`. Refuses, before writing either,
 * when one of them exists: overwriting a key would lock its operator out.
 */
export async function writeOperatorKeyPair(dir: string, name: string): Promise<WrittenKeyPair> {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(name)) throw new KeyFileError(name, "is not a usable operator id; use 1 to 128 letters, digits, '_' and '-'");
  const keyFile = join(dir, `${name}.key`);
  const pubFile = join(dir, `${name}.pub`);
  for (const f of [keyFile, pubFile]) {
    const exists = await access(f, constants.F_OK).then(
      () => true,
      () => false,
    );
    if (exists) throw new KeyFileError(f, "already exists; refusing to overwrite a key (move it away, or choose another --out)");
  }
  const pair = generateOperatorKeyPair();
  const write = async (f: string, text: string, mode: number) => {
    try {
      // `wx`: fail rather than overwrite, should the file appear between the check and the write.
      await writeFile(f, text, { mode, flag: "wx" });
    } catch (e) {
      throw new KeyFileError(f, `cannot be written: ${(e as Error).message}`);
    }
  };
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
    throw new KeyFileError(dir, `cannot be created: ${(e as Error).message}`);
  });
  await write(keyFile, pair.privateKeyPem, 0o600);
  await write(pubFile, pair.publicKeyPem, 0o644);
  return { keyFile, pubFile, publicKeyPem: pair.publicKeyPem };
}

// The one way src/config/ reads a file: the site config, profiles, and the password, certificate
// and key files a config names. Only regular files, only up to a size limit, so that a FIFO, a
// device (/dev/urandom, /dev/zero) or a runaway file cannot hang or exhaust the loader.
import { constants } from "node:fs";
import { open } from "node:fs/promises";

export type FileRead = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: string };

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Size limits, in bytes. Each is far above any real file of its kind, so that only a wrong file
 * (a log, a disk image, a device) reaches it.
 */
export const fileLimits = {
  /**
   * A site config: the example is 8 KiB; a hall of 1,000 devices and 1,000 rules is about 300 KiB.
   * Also bounds the time to refuse a hostile file: the YAML parser takes ~1-2 s per MiB.
   */
  config: 1 * MiB,
  /** A device profile: the largest shipped one is 3 KiB. */
  profile: 256 * KiB,
  /** A password file: one line. 4 KiB is longer than any password a broker or server accepts. */
  password: 4 * KiB,
  /** A PEM certificate, CA bundle or key: the whole Mozilla CA bundle is about 220 KiB. */
  pem: 1 * MiB,
} as const;

// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer for ever. Regular files
// ignore the flag. (Absent on Windows, where FIFOs cannot be opened this way anyway.)
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** Read `path` as UTF-8 text if it is a regular file of at most `maxBytes` bytes; otherwise say why not. */
export async function readConfigFile(path: string, maxBytes: number): Promise<FileRead> {
  let fh;
  try {
    fh = await open(path, OPEN_FLAGS);
  } catch (e) {
    return { ok: false, reason: openFailure(e) };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, reason: `it is ${kindOf(st)}, not a regular file` };
    if (st.size > maxBytes) return { ok: false, reason: `it is ${st.size} bytes; the limit for this file is ${maxBytes} bytes` };
    // Read at most one byte past the limit: a file that grows while it is read (or a /proc file
    // that reports size 0) is still bounded.
    let buf = Buffer.alloc(Math.min(maxBytes + 1, Math.max(st.size + 1, 4 * KiB)));
    let total = 0;
    for (;;) {
      if (total === buf.length) {
        if (total > maxBytes) return { ok: false, reason: `it holds more than ${maxBytes} bytes, the limit for this file` };
        const bigger = Buffer.alloc(Math.min(maxBytes + 1, 2 * buf.length));
        buf.copy(bigger, 0, 0, total);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, total, buf.length - total, null);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    try {
      return { ok: true, text: new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(0, total)) };
    } catch {
      return { ok: false, reason: "it is not UTF-8 text (a binary file?)" };
    }
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/** The errno code first (what an operator searches for), then what it means here. */
function openFailure(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const what: Record<string, string> = {
    ENOENT: "no such file",
    EACCES: "permission denied (check the file's owner and mode)",
    EPERM: "operation not permitted",
    ENOTDIR: "a part of the path is not a directory",
    ELOOP: "too many symbolic links",
    EISDIR: "it is a directory",
  };
  if (code !== undefined && what[code] !== undefined) return `${code}: ${what[code]}`;
  return e instanceof Error ? e.message : String(e);
}

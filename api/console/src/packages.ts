// Signed exports (the referral package and the 案卷): the download, and its check in this browser
// against the keys the server publishes (GetSigningKeys) — the checks `patrol package verify`
// makes (evidence.cases.package.verify_package): the Ed25519 signature of manifest.json under the
// key the package names and its detached copy, every listed file's SHA-256 and size, files
// missing or added. The key's fingerprint and the OpenSSL command beside it let the receiver
// check the package again without this console. Both pages (referrals.ts, cases.ts) use this
// one panel.
import { type Schemas, api, apiFile } from "./api";
import { h } from "./dom";
import { type Word, fill, t, tr } from "./i18n";
import { loading, problemText, saveFile } from "./view";

type Keys = Schemas["SigningKeyList"];
type Key = Schemas["SigningKey"];

// the README's check of a package's signature (OpenSSL 3.0+)
export const VERIFY_COMMAND =
  "openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin -in manifest.json -sigfile manifest.sig.bin";

const MANIFEST = "manifest.json";
const SIGNATURE = "manifest.sig";
const SIGNATURE_BIN = "manifest.sig.bin";
const ED25519 = "Ed25519";

export interface Problem {
  path: string;
  problem: string;
  detail: string;
}

/** What the check found; ``ok`` only when the signature is valid and nothing is wrong. */
export interface PackageCheck {
  ok: boolean;
  signatureValid: boolean | null;  // null: not checked (no key, no Ed25519 in this browser)
  keyId: string | null;
  fingerprint: string | null;
  caseNo: string | null;
  filesChecked: number;
  manifestSha256: string | null;
  problems: Problem[];
}

// -- reading a ZIP (stored or deflated, ZIP64 when needed) ---------------------------------------
class ZipError extends Error {}

interface Entry {
  method: number;
  compressed: number;
  size: number;
  offset: number;
}

const utf8 = new TextDecoder("utf-8");

async function bytes(blob: Blob, start: number, end: number): Promise<Uint8Array> {
  return new Uint8Array(await blob.slice(start, end).arrayBuffer());
}

function u16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x1000000;
}

function u64(b: Uint8Array, at: number): number {
  return u32(b, at) + u32(b, at + 4) * 0x100000000;
}

/** The central directory: every file's name, method, sizes and where its header is. */
async function directory(blob: Blob): Promise<Map<string, Entry>> {
  const from = Math.max(0, blob.size - 65_557);
  const tail = await bytes(blob, from, blob.size);
  let end = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (u32(tail, i) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new ZipError("no end of central directory");
  let count = u16(tail, end + 10);
  let length = u32(tail, end + 12);
  let offset = u32(tail, end + 16);
  if (count === 0xffff || length === 0xffffffff || offset === 0xffffffff) {
    const locator = end - 20;
    if (locator < 0 || u32(tail, locator) !== 0x07064b50) throw new ZipError("no ZIP64 locator");
    const at = u64(tail, locator + 8);
    const record = await bytes(blob, at, at + 56);
    if (u32(record, 0) !== 0x06064b50) throw new ZipError("no ZIP64 end record");
    count = u64(record, 32);
    length = u64(record, 40);
    offset = u64(record, 48);
  }
  const cd = await bytes(blob, offset, offset + length);
  const found = new Map<string, Entry>();
  let at = 0;
  for (let n = 0; n < count; n++) {
    if (at + 46 > cd.length || u32(cd, at) !== 0x02014b50) throw new ZipError("bad central directory");
    const nameLength = u16(cd, at + 28);
    const extraEnd = at + 46 + nameLength + u16(cd, at + 30);
    const entry: Entry = { method: u16(cd, at + 10), compressed: u32(cd, at + 20), size: u32(cd, at + 24), offset: u32(cd, at + 42) };
    for (let e = at + 46 + nameLength; e + 4 <= extraEnd; e += 4 + u16(cd, e + 2)) {
      if (u16(cd, e) !== 0x0001) continue;  // the ZIP64 sizes and offset, those that overflow
      let p = e + 4;
      for (const field of ["size", "compressed", "offset"] as const) {
        if (entry[field] === 0xffffffff) {
          entry[field] = u64(cd, p);
          p += 8;
        }
      }
    }
    found.set(utf8.decode(cd.subarray(at + 46, at + 46 + nameLength)), entry);
    at = extraEnd + u16(cd, at + 32);
  }
  return found;
}

async function content(blob: Blob, entry: Entry): Promise<Uint8Array> {
  const head = await bytes(blob, entry.offset, entry.offset + 30);
  if (u32(head, 0) !== 0x04034b50) throw new ZipError("bad local header");
  const start = entry.offset + 30 + u16(head, 26) + u16(head, 28);
  const raw = blob.slice(start, start + entry.compressed);
  if (entry.method === 0) return new Uint8Array(await raw.arrayBuffer());
  if (entry.method === 8) {
    const inflated = raw.stream().pipeThrough(new DecompressionStream("deflate-raw"));
    return new Uint8Array(await new Response(inflated).arrayBuffer());
  }
  throw new ZipError(`compression method ${entry.method}`);
}

// -- the check -----------------------------------------------------------------------------------
async function sha256(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data as BufferSource));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function base64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function verifyEd25519(key: Key, signature: Uint8Array, message: Uint8Array): Promise<boolean | null> {
  const der = base64(key.publicKeyPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""));
  try {
    const imported = await crypto.subtle.importKey("spki", der as BufferSource, { name: ED25519 }, false, ["verify"]);
    return await crypto.subtle.verify({ name: ED25519 }, imported, signature as BufferSource, message as BufferSource);
  } catch {
    return null;  // a browser without Ed25519 in Web Crypto
  }
}

function why(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface Manifest {
  files?: Array<{ path?: unknown; size?: unknown; sha256?: unknown }>;
  case?: { case_no?: unknown };
  signing_key?: { key_id?: unknown };
}

/** The signature part of the check: what ``manifest.sig`` claims, checked with ``keys``.
 * Returns whether ``manifest.sig.bin`` belongs to the package (an Ed25519 package). */
async function checkSignature(
  blob: Blob, zip: Map<string, Entry>, manifest: Manifest, manifestBytes: Uint8Array, keys: Key[], report: PackageCheck,
): Promise<boolean> {
  const problem = (path: string, kind: string, detail = ""): void => void report.problems.push({ path, problem: kind, detail });
  const entry = zip.get(SIGNATURE);
  if (!entry) {
    problem(SIGNATURE, "signature_missing");
    report.signatureValid = false;
    return false;
  }
  let sig: { alg?: unknown; keyId?: unknown; signature?: unknown };
  let raw: Uint8Array;
  try {
    sig = JSON.parse(utf8.decode(await content(blob, entry))) as typeof sig;
    if (sig.alg !== ED25519) {
      problem(SIGNATURE, "signature_unchecked", String(sig.alg));  // format 1 checks with the server's secret
      return false;
    }
    raw = base64(String(sig.signature));
  } catch (err) {
    problem(SIGNATURE, "signature_invalid", why(err));
    report.signatureValid = false;
    return true;
  }
  const keyId = String(sig.keyId ?? "");
  report.keyId = keyId || null;
  const named = manifest.signing_key?.key_id;
  if (named !== keyId) problem(SIGNATURE, "signature_invalid", `${MANIFEST}: ${String(named)} ≠ ${keyId}`);
  const detached = zip.get(SIGNATURE_BIN);
  if (!detached) problem(SIGNATURE_BIN, "signature_missing");
  else if (!same(await content(blob, detached), raw)) problem(SIGNATURE_BIN, "signature_invalid", SIGNATURE);
  const key = keys.find((k) => k.keyId === keyId);
  if (!key) {
    problem(SIGNATURE, "signature_invalid", fill("pc_keyNotPublished", { key: keyId }));
    report.signatureValid = false;
    return true;
  }
  report.fingerprint = key.fingerprintSha256;
  const valid = await verifyEd25519(key, raw, manifestBytes);
  if (valid === null) {
    problem(SIGNATURE, "signature_unchecked", t("pc_noEd25519"));
    return true;
  }
  if (!valid) problem(MANIFEST, "signature_invalid", t("pc_manifestChanged"));
  report.signatureValid = valid && !report.problems.some((p) => p.problem === "signature_invalid");
  return true;
}

/** Checks an exported ZIP as ``patrol package verify`` does, with the published ``keys``. */
export async function checkPackage(blob: Blob, keys: Key[]): Promise<PackageCheck> {
  const report: PackageCheck = {
    ok: false, signatureValid: null, keyId: null, fingerprint: null, caseNo: null,
    filesChecked: 0, manifestSha256: null, problems: [],
  };
  const problem = (path: string, kind: string, detail = ""): void => void report.problems.push({ path, problem: kind, detail });
  if (!globalThis.crypto?.subtle) {
    problem("", "no_crypto");  // the page is not a secure context (plain HTTP on a network address)
    return report;
  }
  let zip: Map<string, Entry>;
  try {
    zip = await directory(blob);
  } catch (err) {
    problem("", "not_a_zip", why(err));
    return report;
  }
  const entry = zip.get(MANIFEST);
  if (!entry) {
    problem(MANIFEST, "manifest_missing");
    return report;
  }
  let manifestBytes: Uint8Array;
  let manifest: Manifest;
  let listed: NonNullable<Manifest["files"]>;
  try {
    manifestBytes = await content(blob, entry);
    manifest = JSON.parse(utf8.decode(manifestBytes)) as Manifest;
    if (!Array.isArray(manifest.files)) throw new Error("files");
    listed = manifest.files;
    report.caseNo = String(manifest.case?.case_no ?? "") || null;
  } catch (err) {
    problem(MANIFEST, "manifest_unreadable", why(err));
    return report;
  }
  report.manifestSha256 = await sha256(manifestBytes);
  const signed = await checkSignature(blob, zip, manifest, manifestBytes, keys, report);
  for (const item of listed) {
    const path = String(item.path ?? "");
    const file = zip.get(path);
    if (!file) {
      problem(path, "file_missing");
      continue;
    }
    report.filesChecked += 1;
    try {
      const data = await content(blob, file);
      if (data.length !== item.size) problem(path, "size_mismatch", `${data.length} ≠ ${String(item.size)}`);
      if ((await sha256(data)) !== item.sha256) problem(path, "file_modified", "SHA-256");
    } catch (err) {
      problem(path, "file_modified", why(err));
    }
  }
  const expected = new Set([...listed.map((i) => String(i.path ?? "")), MANIFEST, SIGNATURE, ...(signed ? [SIGNATURE_BIN] : [])]);
  for (const name of [...zip.keys()].sort()) if (!expected.has(name)) problem(name, "unexpected_file");
  report.ok = report.signatureValid === true && report.problems.length === 0;
  return report;
}

// -- the panel -----------------------------------------------------------------------------------
/** The check's result as the page shows it. */
export function checkResult(report: PackageCheck, id: string): HTMLElement {
  const box = h("div", { class: report.ok ? "pc-result pc-ok" : "pc-result pc-failed", id, "data-ok": String(report.ok) });
  if (report.ok) {
    box.append(h("p", {}, fill("pc_ok", { key: report.keyId ?? "", files: report.filesChecked })));
  } else {
    const unchecked = report.problems.every((p) => p.problem === "signature_unchecked" || p.problem === "no_crypto");
    box.append(h("p", {}, unchecked ? t("pc_unchecked") : t("pc_failed")));
    box.append(h("ul", {}, ...report.problems.map((p) =>
      h("li", { "data-problem": p.problem }, [p.path, tr(`pc_${p.problem}`), p.detail].filter(Boolean).join(" · ")))));
  }
  if (report.manifestSha256) {
    box.append(h("p", { class: "muted" }, `${t("pc_manifestHash")}：`, h("code", {}, report.manifestSha256)));
  }
  return box;
}

export interface ExportSpec {
  /** Element ids: ``<prefix>-package`` (the button), ``-package-status``, ``-check``,
   * ``-fingerprint``, ``-verify-command``. */
  prefix: string;
  title: Word;
  button: Word;
  path: string;
  method: "GET" | "POST";
  fallback: string;
}

/** A signed export: its button, the download, the check of what arrived, and how the receiver
 * checks it (the key's fingerprint, the OpenSSL command). */
export function signedExport(spec: ExportSpec): HTMLElement {
  const { prefix } = spec;
  const status = h("p", { id: `${prefix}-package-status`, role: "status" });
  const result = h("div", { id: `${prefix}-check-box`, "aria-live": "polite" });
  const button = h("button", { type: "button", id: `${prefix}-package` }, t(spec.button));
  const keys: Promise<Key[]> = api<Keys>("GET", "/signing-keys/").then((k) => k.keys);
  keys.catch(() => undefined);  // shown below; the check reports a key it cannot find
  button.addEventListener("click", () => {
    button.disabled = true;
    status.className = "";
    status.textContent = t("pc_exporting");
    result.replaceChildren();
    apiFile(spec.path, spec.fallback, spec.method)
      .then(async ({ blob, name }) => {
        saveFile(blob, name);
        status.textContent = `${t("pc_exported")}：${name}`;
        result.replaceChildren(h("p", { class: "muted" }, t("pc_checking")));
        const report = await checkPackage(blob, await keys.catch(() => []));
        result.replaceChildren(checkResult(report, `${prefix}-check`));
      })
      .catch((err: unknown) => {
        status.className = "error";
        status.textContent = problemText(err);
      })
      .finally(() => (button.disabled = false));
  });
  const key = h("div", { class: "pc-key" }, loading());
  keys
    .then((list) => {
      const current = list.find((k) => k.current) ?? list[list.length - 1];
      key.replaceChildren(
        h("p", {}, t("pc_fingerprint"), "：",
          h("code", { id: `${prefix}-fingerprint` }, current ? current.fingerprintSha256 : "—"),
          current ? ` (${current.keyId})` : ""),
        h("p", {}, t("pc_verifyHow")),
        h("pre", { id: `${prefix}-verify-command`, class: "verify-command" }, VERIFY_COMMAND));
    })
    .catch((err: unknown) => key.replaceChildren(h("p", { class: "error" }, problemText(err))));
  return h("section", { class: "signed-export", "aria-labelledby": `${prefix}-package-title` },
    h("h3", { id: `${prefix}-package-title` }, t(spec.title)), button, status, result, key);
}

/**
 * The review's only network access: GET of an index file, config.json or a .crate, from the
 * index URL the user named (--index or [review] index), never from anywhere else. Bounded in
 * time and size; a 404 is "not there", anything else that fails is an error (exit 2).
 */
import { reviewError } from "../../core/review/errors.ts";

const HTTP_TIMEOUT_MS = 30_000;
const MAX_DOWNLOAD_BYTES = 64 * 1024 ** 2;

/** The body, or undefined when the server says there is no such file (404, 410). */
export async function fetchBytes(url: string, maxBytes = MAX_DOWNLOAD_BYTES): Promise<Buffer | undefined> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS), redirect: "follow", headers: { "user-agent": "cratebox-review" } });
  } catch (err) {
    throw reviewError(
      "REVIEW_INDEX",
      `GET ${url} failed: ${(err as Error).message}${(err as { cause?: Error }).cause ? ` (${(err as { cause: Error }).cause.message})` : ""}`,
      "check --index / [review] index, or leave it out to review with local sources only",
    );
  }
  if (res.status === 404 || res.status === 410) {
    await res.body?.cancel();
    return undefined;
  }
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel();
    throw reviewError("REVIEW_INDEX", `GET ${url} answered ${res.status} ${res.statusText}`, "check --index / [review] index");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.length;
    if (size > maxBytes) {
      await res.body.cancel().catch(() => {});
      throw reviewError("REVIEW_INDEX", `GET ${url}: the answer is larger than ${maxBytes / 1024 ** 2} MiB`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

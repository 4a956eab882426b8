/**
 * Path helpers shared by the server (node:path and node:url work on Deno and Bun alike).
 * @module
 */

import { resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";

/** Absolute path of `p` from the working directory. */
export function resolve(p: string): string {
  return resolvePath(p);
}

/** `file://` URL string of an absolute path. */
export function toFileUrl(p: string): string {
  return pathToFileURL(p).href;
}

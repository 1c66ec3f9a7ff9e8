/**
 * The native helpers scripts/build-client.ts builds at set-up from native/client: the shims'
 * client (a build script, test binary or compiler call starts it instead of Node) and the bwrap
 * backend's spawner (a posix_spawn per sandbox instead of Node's fork). Where cargo could not
 * build them, the Node client and Node's spawn stand in: slower, the same sandboxes.
 */
import path from "node:path";
import { PACKAGE_ROOT } from "./image.ts";

export const NATIVE_CLIENT = path.join(PACKAGE_ROOT, "dist/native/cratebox-client");
export const NATIVE_SPAWNER = path.join(PACKAGE_ROOT, "dist/native/cratebox-spawner");
/** The front bin/cratebox starts for a build instead of Node (runtime/ticket.ts). */
export const NATIVE_FRONT = path.join(PACKAGE_ROOT, "dist/native/cratebox-front");

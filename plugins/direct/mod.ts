/**
 * The `direct` exchange type.
 * @module
 */
export { directPlugin, directPlugin as default, DirectRouter } from "./direct.ts";

/**
 * The `btf` part of the library. See DESIGN.md for its place in the three layers.
 *
 * @module
 */

export {};

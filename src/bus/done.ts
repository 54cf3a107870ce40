/**
 * DONE: the one resolved promise that an operation finished at once answers instead of a
 * new one (the embedded link, the transport over it, an idle BoundedRunner). A caller
 * that gets DONE knows the work is done and need not wait a turn for it; a caller that
 * awaits it anyway sees an ordinary resolved promise. While async hooks run (the kernel's
 * log context), every promise made and every await costs a hook call, and a per-call
 * listener starts and stops with a dozen such operations.
 */
export const DONE: Promise<void> = Promise.resolve();

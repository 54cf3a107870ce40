/**
 * What a callflow module is (Kazoo's cf_* modules and their `handle(Data, Call)`), and
 * what it ends with.
 *
 * Contract
 * - A module is one file exporting a CfModule, listed once in modules/index.ts.
 *   `check(data)` answers a problem with the node's data (undefined when fine); it runs
 *   when the callflow is looked up. `run(data, call)` drives the call through the
 *   CallHandle (call.ts: commands, call events, DTMF, documents) and resolves with a
 *   Result; it must not keep anything running once it resolves.
 * - Results (Kazoo's cf_exe:continue / stop / branch / usurped):
 *   `continue` to the child at `branch` (default `_`; no such child ends the flow);
 *   `stop` ends the flow (the executor hangs up unless the call is already gone);
 *   `branch` runs another flow tree in place of this node's children;
 *   `usurped` ends the executor without touching the call (another app controls it);
 *   `error` logs the reason, plays the error prompt and hangs up (bad documents).
 * - A module that throws is logged with the call-id and the flow continues at `_`, as
 *   cf_exe does when a module's process dies. When the caller hangs up, every wait of the
 *   CallHandle rejects with HangupError and the module's promise is dropped.
 */
import type { CallHandle } from '../call.ts';
import type { FlowNode } from '../flow.ts';

export type Result =
  | { readonly kind: 'continue'; readonly branch?: string }
  | { readonly kind: 'stop' }
  | { readonly kind: 'branch'; readonly flow: FlowNode }
  | { readonly kind: 'usurped' }
  | { readonly kind: 'error'; readonly reason: string };

export type Data = Readonly<Record<string, unknown>>;

export interface CfModule {
  readonly name: string;
  check(data: Data): string | undefined;
  run(data: Data, call: CallHandle, children: Readonly<Record<string, FlowNode>>): Promise<Result>;
}

export const next = (branch = '_'): Result => ({ kind: 'continue', branch });
export const STOP: Result = { kind: 'stop' };

/** Small data checks shared by the modules. */
export const optString = (d: Data, k: string): string | undefined =>
  d[k] === undefined || typeof d[k] === 'string' ? undefined : `${k} must be a string`;
export const optNumber = (d: Data, k: string): string | undefined =>
  d[k] === undefined || (typeof d[k] === 'number' && Number.isFinite(d[k]) && d[k] >= 0)
    ? undefined
    : `${k} must be a number >= 0`;
export const reqString = (d: Data, k: string): string | undefined =>
  typeof d[k] === 'string' && d[k] !== '' ? undefined : `${k} is required (a string)`;
export const firstProblem = (...ps: Array<string | undefined>): string | undefined =>
  ps.find((p) => p !== undefined);
export const num = (v: unknown, dflt: number): number =>
  typeof v === 'number' && Number.isFinite(v)
    ? v
    : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))
      ? Number(v)
      : dflt;

/**
 * The fault buttons the observer page shows, as data: the page draws one button per
 * entry on every process of the node it is served by, and on a click sends `method` to
 * `path` on the same admin endpoint (with the token), with `body` where each string
 * `{pid}` / `{name}` is replaced by the process's pid / registered name. A fault kind of
 * the admin API is one more entry here; the page needs no change.
 *
 * - `kill`: `POST /kill {pid}`: the process crashes with reason `killed` and its
 *   supervisor applies its strategy.
 */
export interface FaultButton {
  kind: string;
  label: string;
  /** Shown as the button's tooltip. */
  title: string;
  method: 'POST';
  path: string;
  body: Record<string, string>;
  /** Ask before sending (the kernel root: the node halts). */
  confirm?: string;
}

export const FAULTS: readonly FaultButton[] = [
  {
    kind: 'kill',
    label: 'kill',
    title: 'crash this process with reason killed (POST /kill)',
    method: 'POST',
    path: '/kill',
    body: { pid: '{pid}' },
  },
];

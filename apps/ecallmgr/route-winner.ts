/**
 * Route winner selection, as Kazoo's ecallmgr picks among route_resp replies
 * (`ecallmgr_fs_route`). Pure.
 *
 * Contract
 * - A reply is actionable when its Method is one of bridge, park, error, sms, plan,
 *   application (`isActionable`).
 * - `pickWinner(replies)` (replies in arrival order): the first actionable reply that is
 *   not `Defer-Response` wins; if there is none, the first actionable deferred one; else
 *   undefined (nobody will route the call). `decisive` says whether the winner can be
 *   taken at once (not deferred) or only once the wait is over.
 */
import type { Envelope } from '../../src/bus/index.ts';

const METHODS = new Set(['bridge', 'park', 'error', 'sms', 'plan', 'application']);

export const isActionable = (r: Envelope): boolean =>
  r['Event-Name'] === 'route_resp' && typeof r.Method === 'string' && METHODS.has(r.Method);
export const isDeferred = (r: Envelope): boolean =>
  r['Defer-Response'] === true || r['Defer-Response'] === 'true';

export function pickWinner(
  replies: readonly Envelope[],
): { winner: Envelope; decisive: boolean } | undefined {
  let deferred: Envelope | undefined;
  for (const r of replies) {
    if (!isActionable(r)) continue;
    if (!isDeferred(r)) return { winner: r, decisive: true };
    deferred ??= r;
  }
  return deferred === undefined ? undefined : { winner: deferred, decisive: false };
}

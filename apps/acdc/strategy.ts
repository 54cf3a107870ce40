/**
 * Queue strategies (Kazoo's acdc_queue_manager strategy state), pure.
 *
 * Contract
 * - `StrategyState` holds the agents a queue manager knows, in the order they became
 *   known (`ring`), and in which order they last became available (`availableSince`, a rising number).
 * - `pickAgent(strategy, state, candidates, avoid)` picks one of `candidates` (agents that
 *   answered member_connect_req), preferring those not in `avoid` (agents that already
 *   missed this caller): round_robin takes the first candidate in ring order and moves it
 *   to the end of the ring (so the next caller goes to the next agent); most_idle takes the
 *   candidate available the longest (ties: ring order). Undefined when there is none.
 */
export type Strategy = 'round_robin' | 'most_idle';
export const STRATEGIES: readonly Strategy[] = ['round_robin', 'most_idle'];

export interface StrategyState {
  ring: string[];
  availableSince: Map<string, number>;
}

export function newStrategyState(): StrategyState {
  return { ring: [], availableSince: new Map() };
}

export function noteAgent(s: StrategyState, agentId: string): void {
  if (!s.ring.includes(agentId)) s.ring.push(agentId);
}

export function pickAgent(
  strategy: Strategy,
  s: StrategyState,
  candidates: readonly string[],
  avoid: ReadonlySet<string> = new Set(),
): string | undefined {
  for (const c of candidates) noteAgent(s, c);
  const fresh = candidates.filter((c) => !avoid.has(c));
  const pool = new Set(fresh.length > 0 ? fresh : candidates);
  if (pool.size === 0) return undefined;
  const inRing = s.ring.filter((a) => pool.has(a));
  let winner: string | undefined;
  if (strategy === 'round_robin') winner = inRing[0];
  else {
    let best = Infinity;
    for (const a of inRing) {
      const since = s.availableSince.get(a) ?? 0;
      if (since < best) [best, winner] = [since, a];
    }
  }
  if (winner !== undefined && strategy === 'round_robin') {
    s.ring.splice(s.ring.indexOf(winner), 1);
    s.ring.push(winner);
  }
  return winner;
}

/**
 * How an agent process rings the agent (the seam where originate goes).
 *
 * Contract
 * - `ring(offer)` rings the agent's devices for the caller `offer.callId` and resolves
 *   `{answered: true, ended}` when the agent picked up (`ended` resolves when the
 *   agent's call with the caller is over), or `{answered: false}` when the devices did not
 *   answer. It may resolve after the agent process gave up on it (the ring timeout): the
 *   agent process then ignores it (its call-id is not the current one).
 * - `stop(callId)`: stop ringing that caller (cancel, pause, timeout). Never throws.
 * - This slice's production device is `noDevice` (nothing answers, so an agent that wins
 *   misses); the next step rings by originate_req with the caller as Existing-Call-ID.
 */
export interface RingOffer {
  readonly agentId: string;
  readonly queueId: string;
  readonly callId: string;
  readonly ringTimeoutMs: number;
}

export type RingResult = { answered: true; ended: Promise<void> } | { answered: false };

export interface AgentDevice {
  ring(offer: RingOffer): Promise<RingResult>;
  stop(callId: string): void;
}

export const noDevice: AgentDevice = {
  ring: () => new Promise<RingResult>(() => undefined),
  stop: () => undefined,
};

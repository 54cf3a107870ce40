/**
 * The one error a message check produces: every problem found, in one error.
 *
 * Contract
 * - `InvalidMessage.problems` lists each problem (header, kind, detail); `message` names the
 *   message id and every problem, e.g.
 *   `authn_req is invalid: Auth-Realm: missing required header; Expires: expected integer, got string "x"`.
 * - `describeProblems` renders the same text for validate()'s `reason`.
 */
import type { Problem } from './types.ts';

export function describeProblems(id: string, problems: readonly Problem[]): string {
  return `${id} is invalid: ${problems.map((p) => `${p.header}: ${p.detail}`).join('; ')}`;
}

export class InvalidMessage extends Error {
  readonly id: string;
  readonly problems: readonly Problem[];

  constructor(id: string, problems: readonly Problem[]) {
    super(describeProblems(id, problems));
    this.name = 'InvalidMessage';
    this.id = id;
    this.problems = problems;
  }
}

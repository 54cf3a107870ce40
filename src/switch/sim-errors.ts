/** The usage error of `fife switch-sim` and its client commands: exit code 2, one line. */
export class SwitchSimUsageError extends Error {
  override name = 'SwitchSimUsageError';
}

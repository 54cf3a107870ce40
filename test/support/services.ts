/**
 * Service availability for tests that need a real RabbitMQ, CouchDB-protocol server,
 * Kamailio or SIPp.
 *
 * `serviceGate(name, probe)` runs the probe once. When the service is there the suite
 * runs. When it is not: under FIFE_REQUIRE_SERVICES=1 (CI) the suite fails with the
 * probe's reason; otherwise one loud line is printed and the suite is skipped
 * (use as `describe.skipIf(!(await gate).available)` or `gate.require()` in beforeAll).
 */
export interface ServiceGate {
  readonly name: string;
  readonly available: boolean;
  readonly reason?: string;
}

export const servicesRequired = (): boolean => process.env.FIFE_REQUIRE_SERVICES === '1';

export async function serviceGate(name: string, probe: () => Promise<void>): Promise<ServiceGate> {
  try {
    await probe();
    return { name, available: true };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (servicesRequired()) {
      throw new Error(`FIFE_REQUIRE_SERVICES=1 and ${name} is not available: ${reason}`, { cause: err });
    }
    process.stderr.write(
      `\n!!!!! SKIPPING ${name} SUITE: ${name} is not available (${reason}); set FIFE_REQUIRE_SERVICES=1 to make this a failure !!!!!\n\n`,
    );
    return { name, available: false, reason };
  }
}

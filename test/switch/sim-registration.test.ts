/** Phone registrations published by the simulator, on the embedded bus (see sim-registration.suite.ts). */
import { describe } from 'vitest';
import { registrationSuite } from './sim-registration.suite.ts';

describe('simulator phone registrations on the embedded bus', () => registrationSuite());

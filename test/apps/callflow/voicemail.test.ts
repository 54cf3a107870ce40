/** callflow's voicemail end to end on the embedded bus (see voicemail.suite.ts). */
import { describe } from 'vitest';
import { voicemailSuite } from './voicemail.suite.ts';
import { startVmHarness } from './voicemail-harness.ts';

describe('voicemail on the embedded bus', () => voicemailSuite(() => startVmHarness()));

/** The acdc_member callflow module with acdc, on the embedded bus (see member.suite.ts). */
import { describe } from 'vitest';
import { startCfHarness } from '../callflow/harness.ts';
import { memberSuite } from './member.suite.ts';

describe('acdc_member on the embedded bus', () => memberSuite(() => startCfHarness()));

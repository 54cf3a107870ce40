/**
 * OTP's application types, as the apps controller applies them to an app that ended for
 * good (apps-controller.ts): `permanent` stops the node, `transient` stops it after an
 * abnormal end, `temporary` leaves the app stopped and reported. Apart from the
 * controller so that the node config can check them without loading the kernel.
 */
export type AppType = 'permanent' | 'transient' | 'temporary';
export const APP_TYPES: readonly AppType[] = ['permanent', 'transient', 'temporary'];
/** As Kazoo 4.3's kapps_controller starts kapps (application:start/1): temporary. */
export const DEFAULT_APP_TYPE: AppType = 'temporary';

/**
 * `@raspy/titanic`: durable requests over Majordomo (9/TSP Titanic) and a
 * durable settings store (`titanic.store`), with their clients.
 *
 * @packageDocumentation
 */
export { TitanicServer } from './service/titanic.js';
export type { TitanicOptions, TitanicStats } from './service/titanic.js';
export type { DispatcherOptions } from './service/dispatcher.js';
export { StoreService } from './store/store-service.js';
export type { StoreServiceOptions } from './store/store-service.js';
export { SETTINGS_LIMITS, checkNamespace, checkKey as checkSettingKey } from './store/settings.js';
export { TitanicClient } from './client/titanic-client.js';
export type { TitanicReply, WaitOptions } from './client/titanic-client.js';
export { StoreClient } from './client/store-client.js';
export { TitanicError, isTitanicError } from './errors.js';
export type { TitanicErrorCode } from './errors.js';

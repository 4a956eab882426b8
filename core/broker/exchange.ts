/**
 * Exchange: a named router from a plugin, with its flags and arguments.
 *
 * @module
 */

import type { FieldTable, FieldValue } from "../wire/field_table.ts";
import type { BindableRouter, Owner, Router } from "./router.ts";
import type { Policy } from "./policies.ts";
import type { KeyValueStore } from "./store.ts";

/** Declare-time properties of an exchange. */
export interface ExchangeOptions {
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly args: FieldTable;
}

/** An exchange: the kernel's handle on a plugin's router. */
export class Exchange implements Owner {
  /** The plugin's router; assigned right after construction by the vhost. */
  router!: BindableRouter;
  /** Routers of the `unroutable` stage for this exchange (the alternate exchange). */
  unroutable: readonly { readonly plugin: string; readonly router: Router }[] = [];
  /** Routing epoch mark, so each exchange is followed once per publish. */
  routeMark = 0;
  /** The policy in force (its `alternate-exchange`, plugins' keys), or null; set by the vhost. */
  policy: Policy | null = null;

  /**
   * @param name exchange name ("" is the default exchange)
   * @param vhost vhost name
   * @param type exchange type (the plugin's wire name)
   * @param options flags and arguments
   */
  constructor(
    readonly name: string,
    readonly vhost: string,
    readonly type: string,
    readonly options: ExchangeOptions,
  ) {}

  /** Makes routers of other types for this exchange; set by the vhost. */
  routerFactory: ((type: string) => BindableRouter | undefined) | null = null;

  /** Opens durable key-value maps for this exchange's plugin; set by the vhost when there is a store. */
  keyValueFactory: ((namespace: string) => KeyValueStore) | null = null;

  /** @inheritdoc */
  keyValue(namespace: string): KeyValueStore | undefined {
    return this.options.durable ? this.keyValueFactory?.(namespace) : undefined;
  }

  /** @inheritdoc */
  effectiveArg(xArg: string, policyKey: string): FieldValue | undefined {
    const v = this.options.args[xArg];
    if (v !== undefined || this.policy === null) return v;
    return this.policy.definition[policyKey] as FieldValue | undefined;
  }

  /** @inheritdoc */
  routerOf(type: string): BindableRouter | undefined {
    return this.routerFactory?.(type);
  }
}

import * as pulumi from "@pulumi/pulumi";

/**
 * An explicit provider for `pulumi.dynamic.Resource`s (package `pulumi-nodejs`). The stack files
 * disable every default provider (`pulumi:disable-default-providers: ["*"]`), and that includes
 * the one dynamic resources would otherwise get; this is the same provider plugin
 * (`pulumi-resource-pulumi-nodejs`), registered explicitly.
 */
export class NodejsDynamicProvider extends pulumi.ProviderResource {
  constructor(name: string, opts?: pulumi.ResourceOptions) {
    super("pulumi-nodejs", name, {}, opts);
  }
}

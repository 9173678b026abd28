/**
 * Loads the QuickJS WebAssembly module (release build, synchronous variant)
 * once per process.
 *
 * The variant normally loads its Emscripten glue with a dynamic `import()`.
 * Code that runs inside `node:vm` without a dynamic-import callback (Jest's
 * CommonJS runtime, for one) cannot do that, so when — and only when — that
 * import fails for that reason, the CommonJS build of the same glue is
 * `require`d, resolved from `quickjs-emscripten` (which depends on it).
 *
 * @internal
 * @module
 */
import { createRequire } from 'node:module';
import { RELEASE_SYNC, newQuickJSWASMModuleFromVariant } from 'quickjs-emscripten';
import type { QuickJSSyncVariant, QuickJSWASMModule } from 'quickjs-emscripten';

type ModuleLoader = Awaited<ReturnType<QuickJSSyncVariant['importModuleLoader']>>;

const variant: QuickJSSyncVariant = {
  type: 'sync',
  importFFI: () => RELEASE_SYNC.importFFI(),
  importModuleLoader: async () => {
    try {
      return await RELEASE_SYNC.importModuleLoader();
    } catch (error) {
      if (!isMissingDynamicImport(error) || typeof require !== 'function') throw error;
      const requireFromQuickJS = createRequire(require.resolve('quickjs-emscripten'));
      return requireFromQuickJS('@jitl/quickjs-wasmfile-release-sync/emscripten-module') as ModuleLoader;
    }
  },
};

let shared: Promise<QuickJSWASMModule> | undefined;

/** The shared module; a failed load is forgotten so that the next call tries again. */
export function loadQuickJS(): Promise<QuickJSWASMModule> {
  shared ??= newQuickJSWASMModuleFromVariant(variant).catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}

/**
 * Forgets the shared module if it is `module`, whose state can no longer be
 * trusted; the next {@link loadQuickJS} loads a fresh one.
 */
export function discardQuickJS(module: QuickJSWASMModule): void {
  const current = shared;
  void current?.then((loaded) => {
    if (loaded === module && shared === current) shared = undefined;
  });
}

function isMissingDynamicImport(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && code.startsWith('ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING')) return true;
  return error instanceof Error && error.message.includes('dynamic import callback');
}

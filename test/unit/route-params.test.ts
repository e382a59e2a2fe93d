import { describe, expectTypeOf, it } from 'vitest';
import type { PathParams } from '../../src/gateway/http.js';

// Checked by tsc (`npm run typecheck`): a handler reading a parameter its pattern lacks does not compile.
describe('route params', () => {
  it('are named and typed from the pattern', () => {
    expectTypeOf<PathParams<'/v1/groups/:id/members/:userId'>>().toEqualTypeOf<{ id: string; userId: string }>();
    expectTypeOf<PathParams<'/v1/groups/:id/messages/:seq/receipts'>>().toEqualTypeOf<{ id: string; seq: string }>();
    expectTypeOf<PathParams<`/v1/communities/:id/requests/:userId/${'approve' | 'reject'}`>>().toEqualTypeOf<{
      id: string;
      userId: string;
    }>();
    // biome-ignore lint/complexity/noBannedTypes: a pattern without params gives exactly the empty object type.
    expectTypeOf<PathParams<'/healthz'>>().toEqualTypeOf<{}>();
  });
});

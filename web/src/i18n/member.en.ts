// Strings of the member's screens (sign-in, lists, conversation, profile).
export const memberEn = {
  'app.name': 'Banyan',
  'common.loading': 'Loading…',
} as const;

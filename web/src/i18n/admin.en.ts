// Strings of the coordinator's screens (community overview, members, requests, reports).
export const adminEn = {
  'admin.members': 'Members',
} as const;

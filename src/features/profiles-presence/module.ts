import type { FeatureModule } from '../../platform/module.js';
import type { PresenceFeed } from './presence-feed.js';
import type { Profiles } from './profiles.js';
import { profileRoutes } from './routes.js';

export const profilesPresenceModule = (profiles: Profiles, presence: PresenceFeed): FeatureModule => ({
  name: 'profiles-presence',
  routes: (router) => profileRoutes(router, profiles, presence),
});

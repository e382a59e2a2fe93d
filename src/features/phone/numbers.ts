import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { badRequest } from '../../protocol/errors.js';

// Phone numbers in E.164 (docs/protocol.md §2 "Phone numbers and one-time codes"). The `max`
// metadata checks a number against each region's real number patterns, not only its length (what
// `min` checks): a code is never sent, at the operator's cost, to a number that cannot exist. Its
// size (about 150 KB) only matters in a browser; this runs on the server.

/** The number in E.164 (`+919876543210`), or 400 with what is wrong with it. */
export function normalisePhone(typed: string, defaultRegion: string): string {
  const parsed = parsePhoneNumberFromString(typed, { defaultCountry: defaultRegion as CountryCode, extract: false });
  if (!parsed?.isValid())
    throw badRequest("not a valid phone number: give it with its country code (+91 98765 43210), or as dialled in the server's region", {
      field: 'phone',
    });
  return parsed.number;
}

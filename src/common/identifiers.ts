/**
 * Longest identifier (agent, client, token id) the service accepts anywhere: in a token's claims and in the admin
 * API alike, so that an agent that can be granted a tool can also present a token, and the other way round.
 */
export const MAX_ID_LENGTH = 255;

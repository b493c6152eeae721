import type { JsonSchema } from './fields';

/**
 * The `data` of each endpoint's success (UPSTREAM.md, the "data on success"
 * columns), as JSON Schema 2020-12: the catalogue holds them beside the
 * request fields, so the OpenAPI documents, the client's types (checked
 * against those documents) and the answer tests share one source.
 *
 * Objects stay open (no `additionalProperties: false`): a field the upstream
 * adds later must not turn a valid answer into a failure for a front end that
 * validates. The tests close them to hold the sandbox to exactly this shape.
 *
 * Shared shapes are components, referenced as `#/components/schemas/<Name>`;
 * a document takes in only those its answers reach.
 */

type Props = Readonly<Record<string, JsonSchema>>;

function object(properties: Props, options: { optional?: readonly string[]; description?: string } = {}): JsonSchema {
  const optional = new Set(options.optional ?? []);
  return {
    type: 'object',
    ...(options.description ? { description: options.description } : {}),
    required: Object.keys(properties).filter((name) => !optional.has(name)),
    properties,
  };
}

const text = (description?: string): JsonSchema => ({ type: 'string', ...(description ? { description } : {}) });
const integer = (description?: string, minimum?: number): JsonSchema => ({
  type: 'integer',
  ...(minimum !== undefined ? { minimum } : {}),
  ...(description ? { description } : {}),
});
const list = (items: JsonSchema, description?: string): JsonSchema => ({ type: 'array', items, ...(description ? { description } : {}) });
const isoDate: JsonSchema = { type: 'string', format: 'date-time', description: 'ISO 8601, UTC.' };

/** A reference to a shared shape of `answerComponents`. */
export const answerRef = (name: AnswerComponentName): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

const profileProps: Props = {
  partnerClientId: text("The partner's own identifier of the user."),
  email: text('Empty when never given.'),
  firstName: text('Empty when never given.'),
  lastName: text('Empty when never given.'),
  points: integer('Balance.'),
  optIn: { type: 'boolean', description: 'Whether the user consented to data use.' },
};

const giftProps: Props = {
  giftId: text(),
  name: text(),
  cost: integer('Price in points.', 0),
  stock: integer('Units left.', 0),
};

const earnProps: Props = {
  earnId: text(),
  action: text('Action code of the program.'),
  points: integer('Points earned.'),
  param1: text('The discriminator it was stored with, when one was.'),
  date: isoDate,
};

const burnProps: Props = {
  burnId: text(),
  giftId: text(),
  name: text("The gift's name, in the user's language."),
  cost: integer('Points spent.', 0),
  date: isoDate,
};

/** Shapes shared by several answers: OpenAPI components of the documents that use them. */
export const answerComponents = Object.freeze({
  Program: object({ name: text(), currency: text('What the points are called (`stars`, `miles`...).') }),
  ProgramAction: object(
    { action: text(), name: text(), points: integer('Points it earns.'), maxPerUser: integer('How many times one user may store it; absent: once per `param1`.', 1) },
    { optional: ['maxPerUser'] },
  ),
  ProgramGift: object(giftProps),
  GiftOffer: object({ ...giftProps, affordable: { type: 'boolean', description: 'In stock and within the user\'s balance.' } }),
  UserBalance: object({ partnerClientId: profileProps.partnerClientId!, points: profileProps.points!, optIn: profileProps.optIn! }),
  UserProfile: object(profileProps),
  Earn: object(earnProps, { optional: ['param1'] }),
  Burn: object(burnProps),
  Ad: object({ adId: text(), title: text(), body: text(), imageUrl: text('Absolute URL of the image.'), url: text('Absolute URL the ad leads to.') }),
  ChangedUser: object({
    partnerClientId: profileProps.partnerClientId!,
    email: profileProps.email!,
    points: profileProps.points!,
    earns: list({ $ref: '#/components/schemas/Earn' }, 'Newest first.'),
    burns: list({ $ref: '#/components/schemas/Burn' }, 'Newest first.'),
  }),
  MultistoreResult: object(
    { partnerClientId: text(), errorCode: integer('0 when stored; else why not (6, 7...).'), points: integer('New balance, when stored.') },
    { optional: ['points'] },
  ),
  RankingEntry: object({ rank: integer('From 1, by points.', 1), partnerClientId: text(), points: integer() }),
  DeletionResult: object({ partnerClientId: text(), deleted: { type: 'boolean', description: 'False when the user was unknown.' } }),
} satisfies Record<string, JsonSchema>);

export type AnswerComponentName = keyof typeof answerComponents;

const page: Props = { page: integer('This page, from 1.', 1), total: integer('How many items in all pages.', 0) };

const programProps: Props = {
  program: answerRef('Program'),
  actions: list(answerRef('ProgramAction')),
  gifts: list(answerRef('ProgramGift')),
};

/** The `data` of each endpoint's success, by what it holds. */
export const answerData = Object.freeze({
  program: object(programProps),
  programAndBalance: object({ ...programProps, user: answerRef('UserBalance') }),
  /** As the upstream sends it: the `userToken` this service keeps and never passes on. */
  credentials: object({ user: object({ userToken: text('Held by this service, never passed on.'), ...profileProps }) }),
  /** As this service passes it on. */
  connectedUser: object({ user: answerRef('UserProfile') }),
  burns: object({ burns: list(answerRef('Burn'), 'Newest first.'), ...page }),
  earns: object({ earns: list(answerRef('Earn'), 'Newest first.'), ...page }),
  empty: { type: 'object', additionalProperties: false, description: 'Nothing: `{}`.' },
  /**
   * An earn's success: stored now, or, for a same-key retry whose first call
   * had an unknown outcome, the upstream's duplicate refusal answered as the
   * success it proves (the earn and balance are then not known: read them).
   */
  stored: {
    description: 'The earn stored now, or the proof that an earlier call with the same `Idempotency-Key` stored it.',
    oneOf: [
      object({ earn: answerRef('Earn'), points: integer('New balance.') }, { description: 'Stored by this call.' }),
      object(
        {
          alreadyApplied: { type: 'boolean', const: true, description: 'A retry with the same `Idempotency-Key` found the earn already stored.' },
          action: text('The action that was stored.'),
          param1: text('The discriminator it was stored with.'),
        },
        { description: 'Stored by an earlier call with the same key whose outcome was unknown: the upstream refused the duplicate `action` + `param1`. The earn and the balance are in `user/historyearns` and `partner/initialcheckstore`.' },
      ),
    ],
  },
  giftOffers: object({ gifts: list(answerRef('GiftOffer')) }),
  bought: object({ burn: answerRef('Burn'), points: integer('New balance.') }),
  ads: object({ ads: list(answerRef('Ad')) }),
  backendToken: object({ token: text(), expiresIn: integer('Lifetime in seconds.', 1) }),
  multistore: object({ results: list(answerRef('MultistoreResult'), 'One per partnerClientId, in the order given.') }),
  changedUsers: object({ users: list(answerRef('ChangedUser')), ...page }),
  profiles: object({ users: list(answerRef('UserProfile')), ...page }),
  profile: object({ user: answerRef('UserProfile') }),
  ranking: object({ ranking: list(answerRef('RankingEntry'), 'The user and up to n users above and n below, best first.') }),
  deletions: object({ results: list(answerRef('DeletionResult'), 'One per partnerClientId, in the order given.') }),
} satisfies Record<string, JsonSchema>);

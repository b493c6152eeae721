import { ErrorCode, refuse } from './errors';
import type { BurnRecord, EarnRecord, SandboxState, UserRecord } from './state';

/** The program's rules for earning (errors 6, 7) and spending (errors 4, 5) points. */

export function earn(state: SandboxState, user: UserRecord, actionCode: string, param1: string | undefined, date: string): EarnRecord {
  const action = state.program.actions.find((a) => a.action === actionCode);
  if (!action) refuse(ErrorCode.UnknownAction, `unknown action: ${actionCode}`);
  if (param1 !== undefined && user.earns.some((e) => e.action === actionCode && e.param1 === param1)) {
    refuse(ErrorCode.ActionAlreadyStored, 'action already stored for this param1');
  }
  if (action.maxPerUser !== undefined && user.earns.filter((e) => e.action === actionCode).length >= action.maxPerUser) {
    refuse(ErrorCode.ActionAlreadyStored, 'action over its per-user limit');
  }
  const record: EarnRecord = {
    earnId: state.nextId('earn'),
    action: actionCode,
    points: action.points,
    ...(param1 !== undefined ? { param1 } : {}),
    date,
    seq: state.nextSeq(),
  };
  user.earns.push(record);
  user.points += action.points;
  state.touch(user);
  return record;
}

/** Buys a gift: unknown or out of stock is checked before the balance. */
export function buy(state: SandboxState, user: UserRecord, giftId: string, date: string): BurnRecord {
  const gift = state.program.gifts.find((g) => g.giftId === giftId);
  const left = state.stockOf(giftId);
  if (!gift || left === undefined) refuse(ErrorCode.GiftUnavailable, `unknown gift: ${giftId}`);
  if (left <= 0) refuse(ErrorCode.GiftUnavailable, `gift out of stock: ${giftId}`);
  if (user.points < gift.cost) refuse(ErrorCode.NotEnoughPoints, 'not enough points');
  const record: BurnRecord = { burnId: state.nextId('burn'), giftId, name: gift.name, cost: gift.cost, date, seq: state.nextSeq() };
  state.takeOneFromStock(giftId);
  user.burns.push(record);
  user.points -= gift.cost;
  state.touch(user);
  return record;
}

/** Refuses an unknown action before anything else happens (no user is created for it). */
export function requireAction(state: SandboxState, actionCode: string): void {
  if (!state.program.actions.some((a) => a.action === actionCode)) refuse(ErrorCode.UnknownAction, `unknown action: ${actionCode}`);
}

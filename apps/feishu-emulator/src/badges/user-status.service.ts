import { Inject, Injectable } from '@nestjs/common';
import { EMULATOR_CONFIG } from '../common/injection.tokens';
import type { EmulatorConfig } from '../config/emulator.config';

export type UserStatus = 'normal' | 'invalid' | 'invisible';

export interface UserStatusLists {
  invalid: string[];
  invisible: string[];
}

/** Users Feishu would refuse: 213006 (status not valid) or 213007 (outside the app's scope). */
@Injectable()
export class UserStatusService {
  private readonly statuses = new Map<string, Exclude<UserStatus, 'normal'>>();

  constructor(@Inject(EMULATOR_CONFIG) private readonly config: EmulatorConfig) {
    this.reset();
  }

  statusOf(userId: string): UserStatus {
    return this.statuses.get(userId) ?? 'normal';
  }

  mark(userIds: readonly string[], status: UserStatus): void {
    for (const userId of userIds) {
      if (status === 'normal') this.statuses.delete(userId);
      else this.statuses.set(userId, status);
    }
  }

  lists(): UserStatusLists {
    const lists: UserStatusLists = { invalid: [], invisible: [] };
    for (const [userId, status] of this.statuses) lists[status].push(userId);
    return lists;
  }

  reset(): void {
    this.statuses.clear();
    this.mark(this.config.invisibleUsers, 'invisible');
    this.mark(this.config.invalidUsers, 'invalid');
  }
}

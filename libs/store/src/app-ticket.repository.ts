import { DataSource } from 'typeorm';

/** Only a newer ticket (by the event's creation time) replaces the stored one; RETURNING says whether it did. */
export const SAVE_APP_TICKET_SQL = `
  INSERT INTO feishu_app_ticket (app_id, ticket, received_at, issued_at) VALUES ($1, $2, now(), $3)
  ON CONFLICT (app_id) DO UPDATE SET ticket = excluded.ticket, received_at = excluded.received_at, issued_at = excluded.issued_at
  WHERE excluded.issued_at > feishu_app_ticket.issued_at
  RETURNING 1 AS stored`;
export const LOAD_APP_TICKET_SQL = `SELECT ticket FROM feishu_app_ticket WHERE app_id = $1`;

/** First sight of an event id (a row back) or a replay (none). Ids older than a day are dropped on the way: Feishu
 * retries a delivery for a few hours, and a replay of a signed request older than 5 minutes is refused anyway. */
export const MARK_EVENT_SEEN_SQL = `
  WITH pruned AS (DELETE FROM feishu_callback_event WHERE received_at < now() - interval '1 day')
  INSERT INTO feishu_callback_event (event_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1 AS fresh`;

export type TicketOutcome = 'stored' | 'older' | 'duplicate';

/** The store app's latest app_ticket, shared by every replica. Never exposed by the API or logged. */
export class AppTicketRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Takes a ticket from the callback: the event id is marked seen and the ticket stored in one transaction, so a
   * failure leaves neither (Feishu's retry is then taken, not mistaken for a replay).
   */
  accept(appId: string, ticket: string, issuedAt: Date, eventId?: string): Promise<TicketOutcome> {
    return this.ds.transaction(async (m) => {
      if (eventId !== undefined && (await m.query(MARK_EVENT_SEEN_SQL, [eventId])).length === 0) return 'duplicate';
      return (await m.query(SAVE_APP_TICKET_SQL, [appId, ticket, issuedAt])).length > 0 ? 'stored' : 'older';
    });
  }

  async load(appId: string): Promise<string | null> {
    const [row] = await this.ds.query(LOAD_APP_TICKET_SQL, [appId]);
    return row?.ticket ?? null;
  }
}

import { DataSource } from 'typeorm';

export const SAVE_APP_TICKET_SQL = `
  INSERT INTO feishu_app_ticket (app_id, ticket, received_at) VALUES ($1, $2, now())
  ON CONFLICT (app_id) DO UPDATE SET ticket = excluded.ticket, received_at = excluded.received_at`;
export const LOAD_APP_TICKET_SQL = `SELECT ticket FROM feishu_app_ticket WHERE app_id = $1`;

/** The store app's latest app_ticket, shared by every replica. Never exposed by the API or logged. */
export class AppTicketRepository {
  constructor(private readonly ds: DataSource) {}

  async save(appId: string, ticket: string): Promise<void> {
    await this.ds.query(SAVE_APP_TICKET_SQL, [appId, ticket]);
  }

  async load(appId: string): Promise<string | null> {
    const [row] = await this.ds.query(LOAD_APP_TICKET_SQL, [appId]);
    return row?.ticket ?? null;
  }
}

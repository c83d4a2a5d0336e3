import { Catch, Controller, RpcExceptionFilter, UseFilters } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { Observable, throwError } from 'rxjs';
import { IngestService } from './ingest.service';
import { InboundMessage } from './ingest.types';
import { INGEST_CHUNK } from './kafka-batch.transport';

/**
 * Hands a handler's error to the transport as it was thrown: the transport logs it (through the redacting error
 * serializer) and retries the chunk. Nest's default RPC filter would log it raw and replace it with a generic one.
 */
@Catch()
class ToTransport implements RpcExceptionFilter {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}

/** The ingest role's entry point: one chunk of one partition's messages (KafkaBatchTransport owns the offsets). */
@Controller()
@UseFilters(ToTransport)
export class IngestController {
  constructor(private readonly ingest: IngestService) {}

  @EventPattern(INGEST_CHUNK)
  async apply(@Payload() messages: InboundMessage[]): Promise<void> {
    await this.ingest.apply(messages);
  }
}

import { Controller, Get, Inject, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { CONSOLE_CSP, ConsoleBundle } from './console-assets';

export const CONSOLE_BUNDLE = Symbol('CONSOLE_BUNDLE');

/**
 * The operator console: static files only (it reads everything through /v1 with the operator's token). Every
 * path under /console that is not an asset is the single page, so deep links such as /console/users/<id> work.
 */
@ApiExcludeController()
@Controller('console')
export class ConsoleController {
  constructor(@Inject(CONSOLE_BUNDLE) private readonly bundle: ConsoleBundle) {}

  @Get('assets/:name')
  asset(@Param('name') name: string, @Res() res: Response): void {
    const a = this.bundle.assets.get(name);
    if (!a) throw new NotFoundException('no such console asset');
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('Content-Type', a.type);
    // Names carry a content hash (esbuild), so a cached copy is never stale.
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    res.end(a.body);
  }

  @Get(['', '*path'])
  page(@Res() res: Response): void {
    if (!this.bundle.index) throw new NotFoundException('the console is not built (npm run build)');
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.end(this.bundle.index);
  }
}

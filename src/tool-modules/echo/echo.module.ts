import { Module } from '@nestjs/common';
import { EchoTools } from './echo.tools.js';

@Module({ providers: [EchoTools] })
export class EchoModule {}

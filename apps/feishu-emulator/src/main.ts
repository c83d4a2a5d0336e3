import 'reflect-metadata';
import { Module, Controller, Get } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HELLO } from '@badges/contracts';
@Controller() class C { @Get('/x') x() { return { HELLO }; } }
@Module({ controllers: [C] }) class M {}
async function main() { const app = await NestFactory.create(M); await app.listen(3999); console.log('up', process.version); await app.close(); }
void main();

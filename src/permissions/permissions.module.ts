import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccessPolicy } from './access-policy.service.js';
import { PermissionGrantEntity } from './permission-grant.entity.js';
import { PermissionsService } from './permissions.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([PermissionGrantEntity])],
  providers: [PermissionsService, AccessPolicy],
  exports: [PermissionsService, AccessPolicy],
})
export class PermissionsModule {}

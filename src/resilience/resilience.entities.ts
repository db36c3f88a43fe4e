import { ToolSwitchEntity } from './tool-switch.entity.js';

/** The resilience module's tables (composed with every other module's in src/persistence.ts). */
export const resilienceEntities = [ToolSwitchEntity];

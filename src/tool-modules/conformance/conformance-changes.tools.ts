import { Injectable } from '@nestjs/common';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { ChangeNotifier } from '../../tools/change-feed.service.js';
import { Tool } from '../../tools/tool.decorator.js';
import { text } from './conformance.fixtures.js';

const NoInput = z.object({});

/**
 * The suite's hooks for list-changed notifications (server-stateless scenario, `subscriptions/listen`): each
 * announces that a list changed, as a pack does when its tools or prompts change. The lists stay the same (a
 * list-changed is a hint to re-list), so the suite's other checks see a stable catalogue.
 */
@Injectable()
export class ConformanceChangeTools {
  constructor(private readonly changes: ChangeNotifier) {}

  @Tool({
    name: 'test_trigger_tool_change',
    description: 'Announces that the tool list changed',
    input: NoInput,
  })
  toolChange(): CallToolResult {
    this.changes.toolsChanged();
    return text('Announced: the tool list changed');
  }

  @Tool({
    name: 'test_trigger_prompt_change',
    description: 'Announces that the prompt list changed',
    input: NoInput,
  })
  promptChange(): CallToolResult {
    this.changes.promptsChanged();
    return text('Announced: the prompt list changed');
  }
}

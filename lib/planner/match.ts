import type { MatchRules } from '../config/schema.ts';
import { severityRank } from './severity.ts';

export interface MatchFacts {
  nodeId?: number | string;
  nodeName?: string;
  severity?: string;
  family?: string;
}

/**
 * Decides whether an integration's match rules select an incident.
 * Returns undefined on a match, otherwise the reason it did not match.
 */
export function mismatchReason(rules: MatchRules, facts: MatchFacts): string | undefined {
  if (rules.nodes) {
    const names = new Set(rules.nodes.map((node) => String(node)));
    const hit =
      (facts.nodeName !== undefined && names.has(facts.nodeName)) ||
      (facts.nodeId !== undefined && names.has(String(facts.nodeId)));
    if (!hit) return `node ${facts.nodeName ?? facts.nodeId ?? '(unknown)'} is not in match.nodes`;
  }
  if (rules.minSeverity && severityRank(facts.severity) < severityRank(rules.minSeverity)) {
    return `severity ${facts.severity ?? '(unknown)'} is below match.minSeverity ${rules.minSeverity}`;
  }
  if (rules.families) {
    const family = facts.family?.toLowerCase();
    if (family === undefined || !rules.families.some((f) => f.toLowerCase() === family)) {
      return `attack family ${facts.family ?? '(unknown)'} is not in match.families`;
    }
  }
  return undefined;
}

//! Complaint classification: which problem a complaint names, how urgent it is and whether it
//! threatens public exposure, decided from keyword evidence in Chinese, English and mixed text.
//!
//! Pure, deterministic and explainable: no I/O, no randomness, and the result lists the words
//! that decided it.
//!
//! - Matching. The lexicon is compiled once into a character trie. A text is normalised (ASCII
//!   lower-cased, full-width forms half-width, whitespace collapsed) and scanned once, left to
//!   right; where entries overlap the leftmost wins, then the longest. Longest-wins lets an
//!   entry override the words inside it: "不喜欢" (don't like) is a complaint, not a negated
//!   "喜欢"; "sensitive skin" is a skin type, not a reaction; "broke out" is a rash, not a
//!   broken bottle. English entries match whole words only ("sue" is not in "issue"); an entry
//!   ending in `*` is a stem ("allerg*"). Misspellings customers make ("alergic", "leakd") are
//!   entries of their own, so matching stays exact and fast.
//! - Negation. A negator ("没有", "不", "no", "never", "without" …) cancels the terms after it
//!   within [`NEGATION_REACH`] words or Chinese characters of the same clause: "no allergy, I
//!   just don't like the smell" is not an adverse reaction.
//! - Category. Terms that name a problem decide, the most serious by
//!   [`Category::BY_SERIOUSNESS`]; the others go to `also_mentioned`. A text that names none and
//!   asks something is an inquiry. Only a statement that names none is read for hints ("I
//!   ordered", "tracking", "生产日期", a hospital visit), and failing those it is an inquiry.
//! - Severity. Urgent only for an adverse reaction with swelling, breathing trouble, blisters,
//!   medical care or a baby or child.
//!
//! A keyword lexicon finds what it lists: phrasings no entry covers fall through to hints or to
//! inquiry. `tests/classification.rs` measures it on the labelled set.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::complaint::{Category, RiskFlag, Severity};

/// What the classifier knows besides the text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ComplaintContext {
    /// The customer's earlier cases in the last 90 days.
    pub earlier_cases_90d: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub category: Category,
    pub severity: Severity,
    /// Sorted, no duplicates.
    pub risk_flags: Vec<RiskFlag>,
    /// The words of the text that decided category, severity and flags, as they appear in the
    /// text (English lower-cased, full-width forms half-width), in order of appearance, no
    /// duplicates.
    pub evidence: Vec<String>,
    /// Other problems the text also names, most serious first (excluding `category`).
    pub also_mentioned: Vec<Category>,
}

/// A customer with this many earlier cases in the last 90 days, or more, is flagged
/// [`RiskFlag::RepeatComplainant`].
pub const REPEAT_COMPLAINANT_CASES: u32 = 2;

/// How far a negator reaches: this many English words or Chinese characters between the negator
/// and the term ("没有出现过敏", "no sign of any allergy").
pub const NEGATION_REACH: usize = 3;

/// Classifies one complaint text.
pub fn classify(text: &str, context: &ComplaintContext) -> Classification {
    let text = normalise(text);
    let signals = read_signals(&text);
    let has_question_mark = text.contains(&'?');

    let mut named = [false; Category::BY_SERIOUSNESS.len()];
    let mut hinted = [false; Category::BY_SERIOUSNESS.len()];
    let mut asks = false;
    let mut urgent_sign = false;
    let mut exposure = false;
    for signal in &signals {
        match signal.meaning {
            Meaning::Problem(category) => named[seriousness_rank(category)] = true,
            Meaning::SeriousReaction => {
                named[seriousness_rank(Category::AdverseReaction)] = true;
                urgent_sign = true;
            }
            Meaning::Hint(category) => hinted[seriousness_rank(category)] = true,
            Meaning::Question => asks = true,
            Meaning::QuestionWord => asks |= has_question_mark,
            Meaning::MedicalCare => {
                hinted[seriousness_rank(Category::AdverseReaction)] = true;
                urgent_sign = true;
            }
            Meaning::Child => urgent_sign = true,
            Meaning::Exposure => exposure = true,
            Meaning::Negation | Meaning::ClauseBreak | Meaning::Neutral => {}
        }
    }

    // A named problem decides. Without one, a question makes the text an inquiry ("开封后保质期
    // 多久？" mentions shelf life but complains of nothing); only a statement is read for hints.
    let basis = if named.contains(&true) {
        Basis::Named
    } else if asks {
        Basis::Question
    } else {
        Basis::Hints
    };
    let deciding = match basis {
        Basis::Named => named,
        Basis::Question => [false; Category::BY_SERIOUSNESS.len()],
        Basis::Hints => hinted,
    };
    let mut named_categories = Category::BY_SERIOUSNESS
        .into_iter()
        .zip(deciding)
        .filter_map(|(category, is_named)| is_named.then_some(category));
    let category = named_categories.next().unwrap_or(Category::Inquiry);
    let also_mentioned: Vec<Category> = named_categories.collect();

    // Hospitals and children make only a reaction urgent: "the baby cream box arrived crushed"
    // is a transit claim like any other.
    let severity = if category == Category::AdverseReaction && urgent_sign {
        Severity::Urgent
    } else {
        Severity::Normal
    };

    let mut risk_flags = Vec::new();
    if exposure {
        risk_flags.push(RiskFlag::PublicOpinion);
    }
    if context.earlier_cases_90d >= REPEAT_COMPLAINANT_CASES {
        risk_flags.push(RiskFlag::RepeatComplainant);
    }

    // A long complaint repeats its words: an entry seen before is the same word again (a stem
    // may have run on to a different word, so stems compare the words).
    let mut seen_entries = vec![0u64; LEXICON.entries.len().div_ceil(64)];
    let mut evidence_spans: Vec<&[char]> = Vec::new();
    for signal in &signals {
        let decided = match signal.meaning {
            Meaning::Problem(named) => basis == Basis::Named && named == category,
            Meaning::Hint(hinted) => basis == Basis::Hints && hinted == category,
            Meaning::Question => basis == Basis::Question,
            Meaning::QuestionWord => basis == Basis::Question && has_question_mark,
            Meaning::SeriousReaction => category == Category::AdverseReaction,
            Meaning::MedicalCare | Meaning::Child => severity == Severity::Urgent,
            Meaning::Exposure => true,
            Meaning::Negation | Meaning::ClauseBreak | Meaning::Neutral => false,
        };
        if !decided {
            continue;
        }
        let word = &text[signal.start..signal.end];
        let (slot, bit) = (signal.entry as usize / 64, 1u64 << (signal.entry % 64));
        let seen = if LEXICON.entries[signal.entry as usize].stem {
            evidence_spans.contains(&word)
        } else {
            seen_entries[slot] & bit != 0
        };
        seen_entries[slot] |= bit;
        if !seen {
            evidence_spans.push(word);
        }
    }
    let evidence = evidence_spans
        .into_iter()
        .map(|word| word.iter().collect())
        .collect();

    Classification {
        category,
        severity,
        risk_flags,
        evidence,
        also_mentioned,
    }
}

/// What decided the category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Basis {
    /// The text names a problem outright.
    Named,
    /// The text names no problem and asks a question.
    Question,
    /// The text names no problem and asks nothing: hints decide, or nothing does.
    Hints,
}

/// What a lexicon entry says when it is found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    /// Names a problem of this category.
    Problem(Category),
    /// Points to a problem of this category without naming it ("I ordered", "tracking",
    /// "生产日期"): decides only when no problem is named and nothing is asked.
    Hint(Category),
    /// Asks something ("请问", "吗"): an inquiry, unless a problem is named.
    Question,
    /// Asks something if the text has a question mark ("can I", "how").
    QuestionWord,
    /// Names an adverse reaction that by itself makes the case urgent: swelling, blisters,
    /// breathing trouble.
    SeriousReaction,
    /// A hospital or doctor: makes an adverse reaction urgent, and hints at one.
    MedicalCare,
    /// A baby or child: makes an adverse reaction urgent, says nothing by itself.
    Child,
    /// Threatens exposure: 12315, social media, the press, a lawyer.
    Exposure,
    /// Cancels the terms right after it ("没有", "no", "never").
    Negation,
    /// Ends a negation's reach ("但是", "but").
    ClauseBreak,
    /// Contains a term but means something else ("不少" is "quite a few", "sensitive skin" is a
    /// skin type); in the lexicon only so that the longest hit hides the term inside.
    Neutral,
}

/// A lexicon hit: chars `start..end` of the normalised text.
#[derive(Debug, Clone, Copy)]
struct Signal {
    start: usize,
    end: usize,
    meaning: Meaning,
    /// Which lexicon entry matched. Two hits of one entry that is not a stem are the same word.
    entry: u32,
}

/// Reads the lexicon hits left to right and keeps those that are not negated (negators, clause
/// breaks and neutral phrases are not kept either).
fn read_signals(text: &[char]) -> Vec<Signal> {
    let mut signals = Vec::new();
    // End of the last negator, or of the last term it cancelled: a negation carries through a
    // list ("no rash or itching", "没有红肿和瘙痒").
    let mut negation_end: Option<usize> = None;
    for hit in LEXICON.hits(text) {
        match hit.meaning {
            Meaning::Negation => negation_end = Some(hit.end),
            Meaning::ClauseBreak => negation_end = None,
            Meaning::Neutral => {}
            _ => {
                if negation_end.is_some_and(|end| within_negation_reach(&text[end..hit.start])) {
                    negation_end = Some(hit.end);
                } else {
                    negation_end = None;
                    signals.push(hit);
                }
            }
        }
    }
    signals
}

/// Whether the text between a negator and a term is short and in the same clause.
fn within_negation_reach(gap: &[char]) -> bool {
    let mut units = 0;
    let mut in_word = false;
    for &c in gap {
        if CLAUSE_PUNCTUATION.contains(&c) {
            return false;
        }
        if c.is_ascii_alphanumeric() || c == '\'' {
            if !in_word {
                units += 1;
            }
            in_word = true;
        } else {
            in_word = false;
            if c.is_alphanumeric() {
                // A Chinese character.
                units += 1;
            }
        }
        if units > NEGATION_REACH {
            return false;
        }
    }
    true
}

/// Punctuation that ends a clause, and with it a negation's reach. The list comma "、" does
/// not: "没有红肿、瘙痒" negates both.
const CLAUSE_PUNCTUATION: &[char] = &[
    ',', '.', ';', ':', '!', '?', '(', ')', '~', '\n', '。', '…', '【', '】', '「', '」',
];

/// Lower-cases ASCII, turns full-width ASCII forms and the ideographic space into their
/// half-width forms, unifies curly apostrophes and collapses runs of whitespace, so that one
/// lower-case lexicon entry finds every spelling. Chars, not bytes: the matcher steps through
/// Chinese text a character at a time.
fn normalise(text: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len());
    // Whitespace waiting to be written as one separator, once more text follows: runs collapse
    // and the ends are trimmed.
    let mut pending: Option<char> = None;
    for c in text.chars() {
        let c = if c.is_ascii() {
            c.to_ascii_lowercase()
        } else {
            match c {
                // Full-width ASCII forms (Ａ, ！, ？, ，) to their ASCII counterparts.
                '\u{FF01}'..='\u{FF5E}' => {
                    char::from_u32(c as u32 - 0xFEE0).map_or(c, |c| c.to_ascii_lowercase())
                }
                '\u{3000}' => ' ',
                '\u{2018}' | '\u{2019}' | '\u{2032}' => '\'',
                '\u{201C}' | '\u{201D}' => '"',
                _ => c,
            }
        };
        // Every whitespace character is at or below U+3000: Chinese text skips the lookup.
        if c <= '\u{3000}' && c.is_whitespace() {
            // A line break ends a clause; other whitespace only separates words.
            if c == '\n' {
                pending = Some('\n');
            } else if pending.is_none() {
                pending = Some(' ');
            }
            continue;
        }
        if let Some(separator) = pending.take()
            && !out.is_empty()
        {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

fn seriousness_rank(category: Category) -> usize {
    Category::BY_SERIOUSNESS
        .iter()
        .position(|&c| c == category)
        .unwrap_or(Category::BY_SERIOUSNESS.len() - 1)
}

/// The compiled lexicon: a trie over the characters of every entry.
///
/// A text is scanned once: at each position the trie is walked as far as the text follows it,
/// and the longest entry found there is the hit, after which the scan resumes behind it. The
/// first character picks its trie branch from a flat table, so the many positions where no
/// entry starts (most characters of a Chinese text) cost one lookup. English entries match
/// whole words only: they are tried only where a word starts, and an entry that is not a stem
/// counts only where the word ends.
struct Lexicon {
    nodes: Vec<Node>,
    /// Each node's children, sorted by character, in the range its node names.
    edges: Vec<(char, u32)>,
    /// The root's children by character, for ASCII and the CJK ideographs; other first
    /// characters are found among the root's edges.
    first_ascii: [u32; 128],
    first_cjk: Vec<u32>,
    entries: Vec<Entry>,
}

/// `first_cjk` covers U+4E00..=U+9FFF, the CJK Unified Ideographs.
const CJK_FIRST: u32 = 0x4E00;
const CJK_LAST: u32 = 0x9FFF;
/// Marks "no such node" in the flat tables; the root is never a child.
const NO_NODE: u32 = 0;
const ROOT: u32 = 0;

#[derive(Clone, Copy)]
struct Node {
    edges_start: u32,
    edges_len: u32,
    /// The entry that ends here, if any (`u32::MAX` if none).
    entry: u32,
}

struct Entry {
    meaning: Meaning,
    /// A stem ("allerg*"): the hit runs on to the end of the word, so the evidence is the word
    /// the customer wrote ("allergic").
    stem: bool,
    /// Ends with an ASCII letter or digit and is no stem: the text must not go on with one
    /// ("sue" is not in "suede").
    needs_word_end: bool,
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(Lexicon::compile);

impl Lexicon {
    fn compile() -> Lexicon {
        // Build with child maps, then flatten into sorted edge ranges.
        let mut children: Vec<BTreeMap<char, u32>> = vec![BTreeMap::new()];
        let mut node_entry: Vec<u32> = vec![u32::MAX];
        let mut entries: Vec<Entry> = Vec::new();
        for (meaning, terms) in LEXICON_TABLES {
            for term in *terms {
                for spelling in expand_alternatives(term) {
                    let (pattern, stem) = match spelling.strip_suffix('*') {
                        Some(stem) => (normalise(stem), true),
                        None => (normalise(&spelling), false),
                    };
                    let mut node = ROOT;
                    for &c in &pattern {
                        let next = children.len() as u32;
                        node = *children[node as usize].entry(c).or_insert(next);
                        if node == next {
                            children.push(BTreeMap::new());
                            node_entry.push(u32::MAX);
                        }
                    }
                    // The first table to list a pattern owns it; `tables_do_not_contradict`
                    // keeps the tables from listing one pattern with two meanings.
                    if node == ROOT || node_entry[node as usize] != u32::MAX {
                        continue;
                    }
                    node_entry[node as usize] = entries.len() as u32;
                    entries.push(Entry {
                        meaning: *meaning,
                        stem,
                        needs_word_end: !stem
                            && pattern.last().is_some_and(char::is_ascii_alphanumeric),
                    });
                }
            }
        }

        let mut nodes = Vec::with_capacity(children.len());
        let mut edges = Vec::new();
        for (node_children, entry) in children.iter().zip(node_entry) {
            nodes.push(Node {
                edges_start: edges.len() as u32,
                edges_len: node_children.len() as u32,
                entry,
            });
            edges.extend(node_children.iter().map(|(&c, &child)| (c, child)));
        }
        let mut first_ascii = [NO_NODE; 128];
        let mut first_cjk = vec![NO_NODE; (CJK_LAST - CJK_FIRST + 1) as usize];
        for (&c, &child) in &children[ROOT as usize] {
            if c.is_ascii() {
                first_ascii[c as usize] = child;
            } else if (CJK_FIRST..=CJK_LAST).contains(&(c as u32)) {
                first_cjk[(c as u32 - CJK_FIRST) as usize] = child;
            }
        }
        Lexicon {
            nodes,
            edges,
            first_ascii,
            first_cjk,
            entries,
        }
    }

    fn child(&self, node: u32, c: char) -> Option<u32> {
        let node = &self.nodes[node as usize];
        let start = node.edges_start as usize;
        let edges = &self.edges[start..start + node.edges_len as usize];
        if edges.len() <= 8 {
            edges
                .iter()
                .find(|(edge, _)| *edge == c)
                .map(|&(_, child)| child)
        } else {
            edges
                .binary_search_by_key(&c, |&(edge, _)| edge)
                .ok()
                .map(|found| edges[found].1)
        }
    }

    fn first(&self, c: char) -> Option<u32> {
        let code = c as u32;
        let node = if c.is_ascii() {
            self.first_ascii[code as usize]
        } else if (CJK_FIRST..=CJK_LAST).contains(&code) {
            self.first_cjk[(code - CJK_FIRST) as usize]
        } else {
            return self.child(ROOT, c);
        };
        (node != NO_NODE).then_some(node)
    }

    /// The longest entry starting at `start`, as (end, entry).
    fn longest_at(&self, text: &[char], start: usize) -> Option<(usize, u32)> {
        let mut node = self.first(text[start])?;
        let mut at = start + 1;
        let mut longest = None;
        loop {
            let entry = self.nodes[node as usize].entry;
            if entry != u32::MAX {
                let word_goes_on = text.get(at).is_some_and(char::is_ascii_alphanumeric);
                if !(self.entries[entry as usize].needs_word_end && word_goes_on) {
                    longest = Some((at, entry));
                }
            }
            match text.get(at).and_then(|&c| self.child(node, c)) {
                Some(next) => {
                    node = next;
                    at += 1;
                }
                None => return longest,
            }
        }
    }

    /// The hits of a normalised text, left to right, not overlapping: the leftmost wins, and of
    /// those starting there the longest.
    fn hits<'a>(&'a self, text: &'a [char]) -> impl Iterator<Item = Signal> + 'a {
        let mut at = 0;
        std::iter::from_fn(move || {
            while at < text.len() {
                let start = at;
                let inside_word = text[start].is_ascii_alphanumeric()
                    && start > 0
                    && text[start - 1].is_ascii_alphanumeric();
                let found = if inside_word {
                    None
                } else {
                    self.longest_at(text, start)
                };
                let Some((mut end, entry_id)) = found else {
                    at += 1;
                    continue;
                };
                let entry = &self.entries[entry_id as usize];
                if entry.stem {
                    while text.get(end).is_some_and(char::is_ascii_alphanumeric) {
                        end += 1;
                    }
                }
                at = end;
                return Some(Signal {
                    start,
                    end,
                    meaning: entry.meaning,
                    entry: entry_id,
                });
            }
            None
        })
    }
}

/// Expands `{a|b|}` groups into every spelling: "swell{ing|ed}" -> "swelling", "swelled".
fn expand_alternatives(term: &str) -> Vec<String> {
    let Some(open) = term.find('{') else {
        return vec![term.to_owned()];
    };
    let close = open
        + term[open..]
            .find('}')
            .expect("a lexicon group is closed with '}'");
    let (head, group, tail) = (&term[..open], &term[open + 1..close], &term[close + 1..]);
    group
        .split('|')
        .flat_map(|choice| expand_alternatives(&format!("{head}{choice}{tail}")))
        .collect()
}

// The lexicon. Entries are written lower-case and half-width; `{a|b|}` expands to alternatives
// and a trailing `*` marks a stem. No spelling may appear with two meanings (a test checks).

const NEGATORS: &[&str] = &[
    "没有",
    "沒有",
    "没",
    "沒",
    "不",
    "无",
    "無",
    "未",
    "毫无",
    "no",
    "not",
    "never",
    "without",
    "nor",
    "zero",
    "{don't|dont|do not}",
    "{didn't|didnt|did not}",
    "{doesn't|doesnt|does not}",
    "{isn't|isnt|wasn't|wasnt|aren't|arent|weren't|werent}",
    "{haven't|havent|hasn't|hasnt|hadn't|hadnt}",
];

const CLAUSE_BREAKS: &[&str] = &[
    "但是", "但", "可是", "不过", "然而", "却", "只是", "就是", "而且", "结果", "反而", "but",
    "however", "though", "although", "except", "just", "then", "until", "yet",
];

/// Phrases that contain a term but do not mean it.
const NEUTRAL: &[&str] = &[
    // 不/没/无 that do not negate: "quite a few", "nonstop", "don't know", "less than", "after
    // not long", "otherwise", "for no reason".
    "不少",
    "不停",
    "不断",
    "不知道",
    "不知",
    "不清楚",
    "不确定",
    "不到",
    "不久",
    "不一会",
    "不小心",
    "不仅",
    "不但",
    "不管",
    "不然",
    "要不然",
    "不得不",
    "不敢",
    "不住",
    "受不了",
    "不了",
    "不行",
    "不对劲",
    "不会吧",
    "是不是",
    "没多久",
    "没过多久",
    "没几天",
    "没两天",
    "没一会",
    "没想到",
    "没办法",
    "没法",
    "无缘无故",
    "无故",
    "无法",
    "无数",
    "not sure",
    "not only",
    "not just",
    "no idea",
    "no matter",
    "no longer",
    "never had",
    "never been",
    // Questions and skin types, not reactions.
    "会不会过敏",
    "会过敏",
    "过敏吗",
    "过敏体质",
    "易过敏",
    "容易过敏",
    "防过敏",
    "过敏原",
    "敏感肌",
    "红血丝",
    "口红",
    "红色",
    "起泡沫",
    "起泡网",
    "去浮肿",
    "去水肿",
    "消水肿",
    "磨砂颗粒",
    "sensitive skin",
    "for sensitive",
    "allergen*",
    "hypo-allergenic",
    "allergy{-| }tested",
    "dermatologist{-| }{tested|recommended|approved}",
    "dermatologically tested",
    "{i'm|im|i am} allergic to",
    "cause {allerg*|an allerg*|irritat*|a reaction|any reaction|reactions|breakouts}",
    "{for|with|reduce|reduces|calm|calms} redness",
    "anti-redness",
    "for {eczema|acne|breakouts}",
    "rash cream",
    "peeling {gel|solution|toner|pads}",
    "peel{-| }off",
    "puffiness",
    "depuff*",
    "de-puff*",
    "anti-puff*",
    "refund instead",
    "instead of {a|an} {refund|exchange|replacement}",
    "exchange instead",
    "return policy",
    "how {do|can|should} i return",
    "how to return",
    "return process",
    "退货流程",
    "怎么退",
    "如何退",
    "泡泡",
    "气泡",
    "化了妆",
    "怕过敏",
    "担心过敏",
    "怕会过敏",
    "担心会过敏",
    "怕长痘",
    "怕烂脸",
    "{worried|afraid|scared|concerned|nervous} {about|of} {allerg*|a reaction|reactions|reacting|irritat*|breaking out|breakouts}",
    "patch test",
    "不会是",
    "真的假的",
    "刺激性",
    "怎么搞的",
    "怎么回事",
    "怎么还",
    "{会|会不会}{长痘|闷痘|爆痘|致痘|刺激|泛红|脱皮|烂脸|过敏|起疹子|长闭口|长脂肪粒}",
    "湿疹体质",
    "湿疹宝宝",
    "有湿疹",
    "湿疹肌",
    "祛痘",
    "去痘",
    "痘印",
    "痘坑",
    "痘痘肌",
    "油痘肌",
    "痘肌",
    "控痘",
    "抗痘",
    "防痘",
    "战痘",
    "致痘",
    "没看到效果",
    "没看到任何效果",
    "没看到变化",
    "nowhere near",
    "过敏过",
    "别的牌子",
    "对{香精|酒精|香料|坚果|花粉|尘螨|海鲜|防腐剂|水杨酸|果酸|a醇|烟酰胺|精油|羊毛脂|芦荟|金属|镍}过敏",
];

const ADVERSE_REACTION: &[&str] = &[
    "过敏",
    "過敏",
    "抗过敏药",
    "过敏药",
    "不良反应",
    "副作用",
    "红疹",
    "紅疹",
    "疹子",
    "起疹",
    "皮疹",
    "荨麻疹",
    "风团",
    "红点",
    "红斑",
    "红块",
    "红了",
    "發紅",
    "发红",
    "泛红",
    "变红",
    "红红的",
    "通红",
    "好红",
    "很红",
    "一片红",
    "痒",
    "癢",
    "瘙痒",
    "刺痛",
    "刺疼",
    "疼",
    "痛",
    "灼烧",
    "灼热",
    "灼伤",
    "烧灼",
    "烧伤",
    "火辣辣",
    "发烫",
    "烫烫的",
    "辣眼睛",
    "刺激",
    "不舒服",
    "不适",
    "脱皮",
    "起皮",
    "蜕皮",
    "掉皮",
    "爆皮",
    "干裂",
    "爆痘",
    "长痘",
    "冒痘",
    "闷痘",
    "起痘",
    "闭口",
    "烂脸",
    "毁容",
    "皮炎",
    "激素脸",
    "疙瘩",
    "变敏感",
    "变得敏感",
    "变得很敏感",
    "越来越敏感",
    "屏障受损",
    "好red",
    "很red",
    "超red",
    // English, with the misspellings customers make.
    "allerg*",
    "alerg*",
    "allerj*",
    "allegic",
    "allegy",
    "alergey",
    "reaction{|s}",
    "reacton",
    "reactoin",
    "react{ed|ing}",
    "rash{|es|y}",
    "rashs",
    "hives",
    "welts",
    "bumps",
    "red {bumps|spots|dots|patch|patches|blotches|marks}",
    "blotch*",
    "redness",
    "rednes",
    "reddness",
    "{turned|turn|turning|went|gone|got|is|are|was|were|so|very|bright|all} red",
    "red and {itchy|sore|hot|burning|irritated|painful|swollen|inflamed|raw|bumpy}",
    "itch*",
    "ichy",
    "ichiness",
    "iching",
    "irritat*",
    "iritat*",
    "irritaion",
    "irritaton",
    "irrtation",
    "irratation",
    "irritaiton",
    "burn{|s|ing|ed|t}",
    "sting{|s|ing}",
    "stung",
    "sore{|ness}",
    "pain{|ful}",
    "hurt{|s|ing}",
    "peeling",
    "peeled",
    "flak{y|ing|es}",
    "raw and",
    "skin is raw",
    "{broke|broken|breaking|break|brake} out",
    "broke me out",
    "breakout{|s}",
    "{gave|given|giving} me acne",
    "{caused|causing} acne",
    "cystic acne",
    "pimple*",
    "zits",
    "dermatitis",
    "eczema flare*",
    "inflam*",
    "antihistamine*",
    "benadryl",
    "damaged my skin",
    "skin damage",
    "damaged {skin|barrier|skin barrier}",
    "破皮",
    "抓破",
    "流血",
    "出血",
    "渗血",
    "结痂",
    "色沉",
    "脸变黑",
    "起红",
    "红一块",
    "红一片",
    "块红",
    "块的红",
    "片红",
    "片的红",
    "红成",
    "红得",
    "又红又",
    "红起来",
    "红彤彤",
    "红通通",
    "脸红",
    "脸上红",
    "皮肤红",
    "身上红",
    "眼睛红",
    "眼周红",
    "红痒",
    "流眼泪",
    "流泪",
    "眼睛涩",
    "眼睛疼",
    "辣眼",
    "刺眼",
    "蛰",
    "刺刺的",
    "扎脸",
    "发麻",
    "麻麻的",
    "干痒",
    "好多痘",
    "很多痘",
    "一脸痘",
    "满脸痘",
    "长了痘",
    "冒了痘",
    "爆了痘",
    "起了痘",
    "粉刺",
    "脂肪粒",
    "脸烂了",
    "毁脸",
    "伤皮肤",
    "伤脸",
    "烧脸",
    "一碰就疼",
    "脸上起",
    "身上起",
    "脖子上起",
    "手上起",
    "脸上长了",
    "脸上冒",
    "tingl*",
    "bleed*",
    "bled",
    "stripped my skin",
    "strips my skin",
    "skin {is|was|started|keeps} cracking",
    "skin cracked",
    "watery eyes",
    "{eyes|eye} {watering|watered|water|teared up|tearing up}",
    "teary",
    "welt*",
    "bumpy",
    "clogged pores",
    "congest*",
    "milia",
    "whitehead*",
    "hot to the touch",
    "{felt|feels|feel|was} hot",
    "on fire",
    "{messed up|ruined|wrecked|destroyed|damaged} my {skin|face}",
    "my skin hates",
    "sensiti{s|z}ed",
    "热热的",
    "发热",
    "针扎",
    "扎扎的",
    "小包",
    "起包",
    "起了包",
    "长包",
    "鼓包",
    "风疹",
    "疹",
    "痘",
    "还是红",
    "有点红",
    "红红",
    "红疙瘩",
    "红印",
    "pins and needles",
    "prickl*",
    "needles",
    "numb{|ness|ed}",
    "发烧一样",
    "烫",
    "冷敷",
    "裂口",
    "皲裂",
    "白皮",
    "脸都是红",
    "脸是红的",
    "都是红的",
    "{won't|wont|doesn't|isn't|not} calm{|ing} down",
];

/// Reactions that are urgent by themselves.
const SERIOUS_REACTION: &[&str] = &[
    "肿",
    "腫",
    "水泡",
    "水疱",
    "起泡",
    "血泡",
    "呼吸困难",
    "喘不过气",
    "喘不上气",
    "透不过气",
    "上不来气",
    "胸闷",
    "过敏性休克",
    "休克",
    "swell*",
    "swollen",
    "swolen",
    "swolled",
    "sweling",
    "puffy",
    "puffed up",
    "puffing up",
    "blister*",
    "blistter*",
    "{can't|cant|cannot|can not|couldn't|couldnt|could not} breath{|e}",
    "{hard|difficult} to breathe",
    "{trouble|difficulty|problems} breathing",
    "breathing {difficult*|problem*|trouble}",
    "short{|ness} of breath",
    "wheez*",
    "throat {closing|closed|tight|tightening|swelling|swollen}",
    "tight chest",
    "chest {tight*|pain}",
    "anaphyla*",
    "epi{-|}pen",
    "香肠嘴",
    "小泡",
    "透明泡",
    "透明的泡",
    "起了泡",
    "长了泡",
    "喉咙紧",
    "喉咙发紧",
    "嗓子发紧",
    "呼吸不畅",
    "憋得慌",
    "barely breathe",
    "struggl* to breathe",
    "{couldn't|could not|can't|cannot} catch my breath",
    "throat {felt|feels|was|is|got|went} {tight|closed|swollen|scratchy and tight}",
    "throat closed up",
    "{lips|face|eyes|eyelids} {blew up|ballooned|doubled|puffed}",
    "blew up like",
    "puffed",
    "睁不开",
    "鼓起来",
    "鼓起",
    "眼皮鼓",
];

/// Medical care makes a reaction urgent, and hints at one when nothing else is named: a
/// customer who went to a hospital over a product had a reaction.
const MEDICAL_CARE: &[&str] = &[
    "医院",
    "醫院",
    "急诊",
    "就医",
    "就诊",
    "看医生",
    "医生",
    "住院",
    "皮肤科",
    "儿科",
    "诊所",
    "挂水",
    "输液",
    "打针",
    "看病",
    "救护车",
    "打120",
    "hospital*",
    "hosptial*",
    "hospitl",
    "{the|to|in|at|an} er",
    "er {visit|doctor|doc}",
    "a&e",
    "emergency",
    "urgent care",
    "ambulance",
    "911",
    "doctor{|s}",
    "docter",
    "{the|my|a} doc",
    "dermatologist{|s}",
    "{the|my|a} derm",
    "{the|my|a} gp",
    "gp said",
    "clinic",
    "p{|a}ediatrician",
    "p{|a}ediatric",
    "walk-in",
    "prescri*",
];

/// A baby or child makes a reaction urgent, and says nothing more.
const CHILD: &[&str] = &[
    "宝宝",
    "寶寶",
    "婴儿",
    "嬰兒",
    "孩子",
    "小孩",
    "儿童",
    "兒童",
    "幼儿",
    "新生儿",
    "小朋友",
    "女儿",
    "儿子",
    "个月大",
    "我家娃",
    "bab{y|ies|ys}",
    "infant*",
    "toddler*",
    "newborn*",
    "child{|ren|s}",
    "kid{|s|dies|do}",
    "my {son|daughter|little one|little boy|little girl}",
    "month{|s}{ |-}old",
    "{my|our} {1|2|3|4|5|6|7|8|9|10|11|12|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve}{-| }year{-| }old",
    "{my|our} {1|2|3|4|5|6|7|8|9|10|11|12|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve}{-| }y{/|}o",
];

/// Threats of exposure.
const EXPOSURE: &[&str] = &[
    "12315",
    "315晚会",
    "消协",
    "消费者协会",
    "消保委",
    "曝光",
    "微博",
    "小红书",
    "抖音",
    "快手",
    "b站",
    "媒体",
    "记者",
    "律师",
    "起诉",
    "投诉到",
    "工商",
    "市场监管",
    "黑猫投诉",
    "法院",
    "告你们",
    "发到网上",
    "发网上",
    "发朋友圈",
    "维权",
    "social media",
    "post {it|this|about it|about this|about you|a video} online",
    "post {it|this|about it|about this|about you|everywhere}",
    "posting {it|this|about it|about this|about you}",
    "all over the internet",
    "weibo",
    "xiaohongshu",
    "little red book",
    "red{ |}note",
    "douyin",
    "tik{ |}tok",
    "instagram",
    "insta",
    "facebook",
    "twitter",
    "youtube",
    "reddit",
    "media",
    "the press",
    "journalist*",
    "reporter*",
    "lawyer*",
    "attorney*",
    "sue",
    "suing",
    "legal action",
    "take legal",
    "court",
    "consumer{|s} {association|council|protection}",
    "report you",
    "reporting you",
    "trading standards",
    "better business bureau",
    "bbb",
    "ftc",
    "ombudsman",
];

const COUNTERFEIT_SUSPECTED: &[&str] = &[
    "假货",
    "假貨",
    "假的",
    "是假",
    "假冒",
    "仿品",
    "高仿",
    "山寨",
    "a货",
    "水货",
    "不是正品",
    "非正品",
    "不像正品",
    "不是真的",
    "不是真货",
    "怀疑是假",
    "防伪",
    "批号查不到",
    "批号查询不到",
    "批号对不上",
    "官网查不到",
    "官网查询不到",
    "和专柜",
    "跟专柜",
    "与专柜",
    "鉴定",
    "fake{|s}",
    "counterfeit*",
    "counterfit*",
    "conterfeit*",
    "couterfeit*",
    "counterfiet*",
    "knock{-| |}off{|s}",
    "{not|isn't|isnt|is not} {genuine|authentic|original|legit|the real thing|real}",
    "replica{|s}",
    "imitation",
    "bootleg",
    "authenticity",
    "{batch|lot|serial} {code|number} {doesn't|does not|didn't|isn't|is not|not|is invalid|invalid|can't be|cannot be|won't}",
    "gr{e|a}y market",
    "卖假",
    "假的吧",
    "假东西",
    "翻新",
    "不是原装",
    "非原装",
    "验证不通过",
    "验证失败",
    "被查询过",
    "已被查询",
    "查询过多次",
    "疑似假",
    "像假的",
    "真伪",
    "not the real deal",
    "misspel*",
    "spelling mistake{|s}",
    "typo{|s}",
    "dodgy",
    "suspicious",
    "doubt {it's|its|this is|that it's|it is} {genuine|real|authentic|legit|original}",
    "仿的",
    "仿货",
    "仿冒",
    "调包",
    "掉包",
    "没生产过",
    "不是{真品|真货|原装货}",
];

const EXPIRED_OR_NEAR_EXPIRY: &[&str] = &[
    "过期",
    "過期",
    "临期",
    "臨期",
    "快到期",
    "即将到期",
    "到期了",
    "保质期只剩",
    "保质期只有",
    "保质期就剩",
    "保质期还剩",
    "效期",
    "生产日期太早",
    "生产日期很早",
    "老批次",
    "旧批次",
    "库存货",
    "expired",
    "expierd",
    "expird",
    "exipred",
    "expried",
    "experied",
    "expiered",
    "out{ |-}of{ |-}date",
    "past {its|the|their} {expiry|expiration|use-by|use by|best before|sell-by|sell by}",
    "past expiry",
    "{near|close to|near to} {expiry|expiration|expiring|its expiry|the expiry|the expiration}",
    "short{-| }dated",
    "expires {next|this|in a|in one|in two|in 2|in 3|soon|within|in less|in under|in just|in only}",
    "expir{ing|e} soon",
    "about to expire",
    "{expiry|expiration|use-by|use by|best before} date {has passed|passed|has already passed|was last|is last|is next|was yesterday|is tomorrow}",
    "old stock",
    "到保质期",
    "保质期快到",
    "保质期到了",
    "过了保质期",
    "超过保质期",
    "超出保质期",
    "过保",
    "日期太老",
    "日期很老",
    "日期很旧",
    "{expiry|expiration|use-by|use by|best before|bb} date {has passed|passed|has already passed|was|is over}",
    "{manufactured|produced|made|mfd} in 20*",
    "expires {today|tomorrow}",
    "expiring {in|within|next|this}",
    "放太久",
    "放了很久",
    "陈年",
    "past {its|their} prime",
];

const QUALITY_DEFECT: &[&str] = &[
    "变质",
    "變質",
    "坏掉了",
    "分层",
    "水油分离",
    "油水分离",
    "析出",
    "异味",
    "怪味",
    "臭了",
    "发臭",
    "臭味",
    "酸臭",
    "酸味",
    "馊",
    "哈喇味",
    "变味",
    "味道不对",
    "味道不太对",
    "气味不对",
    "味道怪",
    "味道很怪",
    "味道奇怪",
    "味道很奇怪",
    "气味奇怪",
    "发霉",
    "霉点",
    "长毛",
    "白毛",
    "霉菌",
    "杂质",
    "异物",
    "头发",
    "虫子",
    "有虫",
    "结块",
    "颗粒",
    "变色",
    "颜色变了",
    "变黄",
    "发黄",
    "发黑",
    "变稀",
    "像水一样",
    "按压泵",
    "泵头坏",
    "泵坏",
    "按不下",
    "按不出",
    "压不出",
    "挤不出",
    "喷不出",
    "喷头坏",
    "喷头堵",
    "堵住了",
    "拧不开",
    "打不开",
    "盖不上",
    "盖不紧",
    "关不上",
    "漏气",
    "断了",
    "瑕疵",
    "质量问题",
    "质量有问题",
    "质量太差",
    "质量很差",
    "次品",
    "残次品",
    "不合格",
    "量不足",
    "没装满",
    "只有半瓶",
    "separat*",
    "seperat*",
    "rancid",
    "rotten",
    "smell{s|ed|} {off|bad|weird|strange|funny|sour|awful|terrible|rancid|like chemicals|chemical|musty|rotten|like rotten}",
    "{bad|weird|strange|funny|sour|foul|odd|awful|off|chemical|musty|rotten} {smell|odour|odor}",
    "mold{|y}",
    "mould{|y}",
    "fungus",
    "{gone|went|goes} bad",
    "spoil{ed|t}",
    "contaminat*",
    "hair in",
    "a hair",
    "bug{|s} in",
    "insect{|s}",
    "particles",
    "lump{s|y}",
    "clump{s|y}",
    "grainy",
    "gritty",
    "curdled",
    "watery",
    "discolo{u|}r*",
    "changed colo{u|}r",
    "turned {yellow|brown|orange|grey|gray|dark|black}",
    "dried {out|up}",
    "{pump|dispenser|sprayer|spray|nozzle|dropper} {doesn't|does not|won't|wont|isn't|is not|not|stopped|stuck|broke|is broken|broken|is stuck|jammed|is jammed|is clogged|clogged|is blocked|blocked}",
    "{broken|faulty|defective|stuck} {pump|dispenser|sprayer|nozzle}",
    "clogged",
    "{cap|lid} {doesn't|won't|does not|wont|can't|cannot} {close|shut|screw}",
    "{doesn't|won't|does not} close",
    "defect*",
    "faulty",
    "{poor|bad|terrible} quality",
    "quality {issue|issues|problem|problems}",
    "half {empty|full}",
    "under{-|}filled",
    "not full",
    "nothing {comes|came} out",
    "{won't|wont} dispense",
    "snapped",
    "stopped working",
    "化开",
    "融化",
    "化成水",
    "水是水",
    "油是油",
    "漂着",
    "漂浮",
    "不明物",
    "黑点",
    "黑色的东西",
    "小东西",
    "油耗味",
    "味道变了",
    "气味变了",
    "有股味",
    "一股怪",
    "喷歪",
    "喷不匀",
    "出不来",
    "按不动",
    "卡住",
    "松了",
    "掉漆",
    "脱落",
    "镜子掉了",
    "合页",
    "断裂",
    "发酸",
    "变硬",
    "干硬",
    "硬邦邦",
    "凝固",
    "沉淀",
    "浑浊",
    "絮状",
    "结晶",
    "sprays sideways",
    "squirt*",
    "{won't|wont|doesn't|does not} spray",
    "came loose",
    "fell off",
    "hinge",
    "floating",
    "speck*",
    "foreign {object|body|particle|particles|matter}",
    "melted",
    "texture changed",
    "smell{s|} different",
    "changed smell",
    "different smell",
    "off smell",
    "cloudy",
    "sediment",
    "crystalli*",
    "hardened",
    "gone hard",
    "solidified",
    "sour",
    "发灰",
    "奇怪的味",
    "怪怪的",
    "掉了",
    "一根毛",
    "有毛",
    "毛发",
    "vinegar",
    "白白的东西",
    "长出来",
    "dribbl*",
    "{doesn't|does not|won't|wont} mist",
    "一坨一坨",
    "豆腐渣",
    "thread is stripped",
    "小水珠",
    "发白",
    "出水",
    "酒精味",
];

const DAMAGED_IN_TRANSIT: &[&str] = &[
    "破损",
    "破損",
    "破了",
    "破的",
    "碎",
    "压坏",
    "压扁",
    "压变形",
    "压烂",
    "漏",
    "渗漏",
    "洒了",
    "洒出",
    "撒了",
    "裂",
    "瘪了",
    "变形",
    "凹进去",
    "磕坏",
    "磕掉",
    "磕破",
    "坏了",
    "坏的",
    "损坏",
    "烂了",
    "湿透",
    "全湿",
    "暴力运输",
    "暴力快递",
    "快递太暴力",
    "运输途中",
    "broken",
    "broke",
    "brokn",
    "brokan",
    "borken",
    "brocken",
    "smashed",
    "shatter*",
    "crack{|s|ed}",
    "craked",
    "crushed",
    "crushd",
    "dented",
    "squashed",
    "damaged",
    "damged",
    "damagd",
    "dammaged",
    "damage",
    "leak*",
    "leek{s|ed|ing}",
    "spill*",
    "spilt",
    "soaked",
    "soaking wet",
    "{box|package|parcel} was wet",
    "arrived open",
    "{lid|cap} came off",
    "in transit",
    "torn",
    "ripped",
    "busted",
    "稀巴烂",
    "凹",
    "一条缝",
    "摔",
    "砸",
    "撞",
    "磕",
    "压得",
    "挤压",
    "变扁",
    "盖子掉了",
    "瓶盖掉了",
    "盒子烂",
    "in pieces",
    "glass everywhere",
    "knocked {around|about|over}",
    "split open",
    "bent",
    "caved in",
    "squished",
    "mangled",
    "banged up",
    "beat up",
    "beaten up",
    "wrecked",
    "chipped",
    "cracking",
    "dropped",
    "thrown",
    "rough handling",
    "poorly {packed|packaged}",
];

const WRONG_ITEM: &[&str] = &[
    "发错",
    "發錯",
    "寄错",
    "错发",
    "送错",
    "发成了",
    "错货",
    "不是我买的",
    "不是我要的",
    "不是我拍的",
    "不是我下单的",
    "不是我订的",
    "和我买的不一样",
    "跟我买的不一样",
    "和订单不符",
    "与订单不符",
    "跟订单不符",
    "和订单不一样",
    "色号不对",
    "色号错",
    "颜色发错",
    "型号不对",
    "规格不对",
    "容量不对",
    "款式不对",
    "版本不对",
    "收到的却是",
    "寄来的却是",
    "发来的却是",
    "到手却是",
    "收到的是",
    "明明拍的",
    "明明买的",
    "明明下单",
    "明明选的",
    "给我发的是",
    "给我发成",
    "{wrong|worng|wrnog|rong} {item|items|product|products|shade|shades|colour|color|size|one|ones|order|thing|variant|version|scent|formula|type|bottle|parcel|package|lipstick|cream|serum}",
    "{the|a} {wrong|worng}",
    "{received|recieved|recived|got|sent} wrong",
    "{not|isn't|isnt|is not} what i ordered",
    "not the {one|shade|colour|color|product|item|size|toner|serum|cream} i ordered",
    "instead of",
    "instead",
    "{someone|somebody} else's",
    "different {product|item|shade|colour|color|size|scent}",
    "mixed up",
    "mix{-| |}up",
    "incorrect {item|product|shade|colour|color|size|order}",
    "东西不对",
    "货不对",
    "全不对",
    "不是我的",
    "不是我下的单",
    "不是我点的",
    "来的是",
    "到的是",
    "寄来的是",
    "发来的是",
    "发的是",
    "{got|received|recieved|recived} {a|an|the} {different|other}",
    "not what i asked for",
    "搞错",
    "{not|aren't|isn't} mine",
    "不是我选的",
    "got the {regular|standard|normal|other|original}",
];

const MISSING_ITEM: &[&str] = &[
    "少发",
    "漏发",
    "漏寄",
    "漏送",
    "少寄",
    "少了",
    "少一",
    "缺了",
    "缺少",
    "缺件",
    "少件",
    "没收到",
    "沒收到",
    "未收到",
    "还没收到",
    "没有收到",
    "只收到",
    "没发",
    "没有发",
    "没寄",
    "没有寄",
    "没给",
    "没有给",
    "没送",
    "没有送",
    "赠品没",
    "赠品呢",
    "小样呢",
    "小样没",
    "没有赠品",
    "没有小样",
    "空盒",
    "空包裹",
    "是空的",
    "收到的是空",
    "丢件",
    "丢了",
    "包裹丢",
    "快递丢",
    "不见了",
    "显示签收",
    "显示已签收",
    "missing",
    "missng",
    "mising",
    "misssing",
    "{didn't|did not|didnt|never|haven't|have not|havent|hasn't|has not|hasnt|still not|not yet} {receive|received|recieve|recieved|recived|arrived|arrive|come|came}",
    "{didn't|did not|didnt|never|haven't|have not|havent|still haven't} {get|got|gotten} {my|the} {order|package|parcel|item|items|delivery}",
    "not {received|recieved|recived|delivered}",
    "never {showed up|turned up}",
    "only {received|recieved|recived|got|came with|had|contained}",
    "{wasn't|was not|weren't|were not|not} included",
    "not in the {box|package|parcel|bag}",
    "nowhere to be found",
    "empty {box|package|parcel}",
    "was empty",
    "lost in",
    "lost {parcel|package}",
    "{package|parcel|order} was lost",
    "got lost",
    "short{-| }shipped",
    "{marked|says|shows|showed|shown} {as |}delivered",
    "没有一起寄",
    "没一起寄",
    "没寄过来",
    "没有寄过来",
    "没发过来",
    "没有发过来",
    "没到",
    "还没到",
    "没有到",
    "还没来",
    "一直没到",
    "{hasn't|haven't|has not|have not|never|still hasn't|still haven't|didn't|did not} {shown up|turned up|showed up|been delivered}",
    "not in my {parcel|package|box|order|bag|delivery}",
    "{didn't|did not|didnt} come with",
    "{wasn't|was not|weren't|were not} in {the|my}",
    "left out",
    "forgot to",
    "forgotten",
    "没看到",
    "什么都没有",
    "说送到了",
    "显示送到",
    "显示已送达",
    "显示送达",
    "supposed to {include|come with|have}",
    "should have {included|come with}",
    "there {isn't|wasn't|is no|was no|were no|aren't|weren't}",
    "{isn't|wasn't} one",
    "没见到",
    "东西呢",
    "只到了",
    "{isn't|wasn't|is not|was not|not|aren't|weren't} there",
    "{are|were} gone",
];

const NOT_AS_EXPECTED: &[&str] = &[
    "不喜欢",
    "不太喜欢",
    "不是很喜欢",
    "不怎么喜欢",
    "不适合",
    "不太适合",
    "不是很适合",
    "不合适",
    "不想要",
    "不要了",
    "不需要了",
    "用不上",
    "七天无理由",
    "7天无理由",
    "无理由",
    "無理由",
    "想退",
    "要退货",
    "申请退货",
    "退掉",
    "可以退吗",
    "能退吗",
    "描述不符",
    "图片不符",
    "和图片",
    "跟图片",
    "与图片",
    "色差",
    "效果不好",
    "效果一般",
    "效果不明显",
    "没效果",
    "没有效果",
    "没什么效果",
    "没啥效果",
    "效果都没",
    "一点效果",
    "毫无效果",
    "无效",
    "没用",
    "没啥用",
    "没什么用",
    "不好用",
    "难用",
    "太油",
    "太干",
    "太黏",
    "太粘",
    "黏腻",
    "粘腻",
    "油腻",
    "太厚",
    "太稀",
    "太白",
    "太暗",
    "太黄",
    "太重",
    "太浓",
    "太冲",
    "刺鼻",
    "香精味",
    "不好闻",
    "难闻",
    "搓泥",
    "卡粉",
    "脱妆",
    "不持久",
    "不保湿",
    "不吸收",
    "拔干",
    "假白",
    "浮粉",
    "选错",
    "买错",
    "拍错",
    "不想用了",
    "后悔",
    "失望",
    "智商税",
    "虚假宣传",
    "夸大",
    "不值",
    "{don't|dont|do not|didn't|didnt|did not} {like|love|enjoy|care for}",
    "not a fan",
    "not for me",
    "hate",
    "{doesn't|doesnt|does not|didn't|didnt|did not} suit",
    "not suit{able|ed}",
    "unsuitable",
    "not {what i expected|as expected|as described|as advertised|as pictured}",
    "{doesn't|does not|didn't|did not} match the {description|photo|photos|picture|pictures}",
    "nothing like the {photo|photos|picture|pictures|description|ad|ads}",
    "looks nothing like",
    "different from the {photo|photos|picture|pictures|description|ad|ads}",
    "misleading",
    "false advertising",
    "too {greasy|oily|sticky|heavy|thick|thin|drying|dry|strong|dark|light|pale|orange|shiny|matte|tacky|rich|small|big|white}",
    "greasy",
    "tacky",
    "pilling",
    "pills",
    "no {effect|difference|results|result|change|improvement}",
    "{didn't|didnt|did not} see any",
    "{did|does|do} nothing",
    "{doesn't|doesnt|does not|didn't|didnt|did not} work",
    "{not|isn't|isnt|is not} working",
    "useless",
    "waste of money",
    "ineffective",
    "changed my mind",
    "no longer {need|want|use}",
    "{don't|dont|do not} {need|want}",
    "return {it|this|them}",
    "{want|like|wish} to return",
    "{7|seven}{-| }day{|s}",
    "no{-| }reason",
    "disappoint*",
    "underwhelming",
    "overpriced",
    "not worth",
    "ordered the wrong",
    "没白",
    "没变白",
    "没有变白",
    "没淡",
    "没变化",
    "没有变化",
    "没有改善",
    "没改善",
    "不明显",
    "一般般",
    "鸡肋",
    "不怎么样",
    "不值得",
    "还不如",
    "不如",
    "perfum{ey|y}",
    "way too",
    "just {okay|ok}",
    "meh",
    "so-so",
    "nothing special",
    "not impressed",
    "{don't|dont|do not|didn't|didnt|did not} see {any|a}",
    "no visible",
    "{didn't|doesn't|did not|does not} do anything",
    "not happy with",
    "unhappy",
    "regret*",
    "too expensive",
    "too much",
    "{isn't|is not|wasn't|was not|not} worth",
    "太滋润",
    "用着闷",
    "太闷",
    "比图片",
    "显黑",
    "显老",
    "fades",
    "{doesn't|does not|don't|didn't} last",
    "not what i paid for",
    "not long{-| }lasting",
    "wears off",
    "推不开",
    "搓半天",
    "{can't|cannot|couldn't|could not} {tell|see|notice} {any|a|the} difference",
    "oxidi{s|z}*",
    "turns orange",
    "not for my",
    "不习惯",
    "很一般",
    "吹得",
    "barely {does|did|do} anything",
    "expected {more|better|way more|much more}",
    "creas{e|es|ing}",
    "settles into",
    "not happy",
];

/// Ask by themselves ("请问", "吗"): an inquiry, unless a problem is named.
const QUESTIONS: &[&str] = &[
    "请问",
    "有没有",
    "吗",
    "多久",
    "怎么",
    "如何",
    "能不能",
    "可不可以",
    "是否",
    "哪款",
    "哪个",
    "什么时候",
    "推荐",
    "想问",
    "咨询",
    "可以用",
    "能用",
];

/// Ask only in a text with a question mark: "compared to what I bought" asks nothing.
const QUESTION_WORDS: &[&str] = &[
    "can i",
    "could i",
    "can you",
    "could you",
    "is it",
    "is this",
    "is there",
    "is the",
    "are they",
    "are these",
    "are the",
    "does it",
    "does this",
    "does the",
    "does your",
    "do you",
    "do they",
    "do i",
    "how",
    "what",
    "when",
    "which",
    "where",
    "should i",
    "would it",
    "will it",
    "recommend",
    "wondering",
    "question",
    "any advice",
    "suitable for",
    "safe to",
    "safe for",
];

/// Hints: they point to a problem without naming it and decide only when nothing is named and
/// nothing asked.
const COUNTERFEIT_HINTS: &[&str] = &[
    "正品",
    "genuine",
    "authentic",
    "{和|跟}{之前|以前}{|买}的不一样",
    "different from the one",
    "{doesn't|does not} look like the",
    "the real one",
    "legit",
    "crooked",
    "flimsy",
    "批号",
    "批次号",
    "batch code",
    "真品",
    "我怀疑",
];
const EXPIRY_HINTS: &[&str] = &[
    "保质期",
    "生产日期",
    "日期",
    "dated",
    "production date",
    "manufactur*",
    "expiry",
    "expiration",
    "expire",
    "best before",
    "use by",
    "shelf life",
    "有效期",
];
const QUALITY_HINTS: &[&str] = &[
    "质量",
    "quality",
    "unusable",
    "用不了",
    "不能用",
    "{can't|cannot} use",
    "有问题",
    "smells like",
    "渣",
];
const TRANSIT_HINTS: &[&str] = &["扔"];
const WRONG_ITEM_HINTS: &[&str] = &[
    "i ordered",
    "i asked for",
    "i bought",
    "买的是",
    "拍的是",
    "下单的是",
    "订的是",
    "要的是",
    "in my parcel",
    "不对",
    "wrong",
    "变成了",
    "shade",
    "i was sent",
    "my order {says|said|clearly says|shows}",
    "仓库",
    "i picked",
    "i chose",
    "i selected",
    "我选的",
    "选的是",
    "ordered",
    "收到是",
    "色号",
];
const MISSING_ITEM_HINTS: &[&str] = &[
    "tracking",
    "物流",
    "应该有",
    "只有",
    "still waiting",
    "where is my",
    "where's my",
    "都到了",
    "but no",
    "只有一张",
];
const NOT_AS_EXPECTED_HINTS: &[&str] = &[
    "refund",
    "退款",
    "退货",
    "退",
    "send it back",
    "send back",
    "return",
    "unopened",
    "未拆封",
    "没拆封",
    "还没拆",
    "没拆",
    "号称",
    "宣传",
    "换一下",
    "returning",
    "和网上说的",
    "差太多",
    "i expected",
];

const LEXICON_TABLES: &[(Meaning, &[&str])] = &[
    // Phrases that hide a term come first so that they own their pattern.
    (Meaning::Neutral, NEUTRAL),
    (Meaning::Negation, NEGATORS),
    (Meaning::ClauseBreak, CLAUSE_BREAKS),
    (Meaning::SeriousReaction, SERIOUS_REACTION),
    (
        Meaning::Problem(Category::AdverseReaction),
        ADVERSE_REACTION,
    ),
    (Meaning::MedicalCare, MEDICAL_CARE),
    (Meaning::Child, CHILD),
    (Meaning::Exposure, EXPOSURE),
    (
        Meaning::Problem(Category::CounterfeitSuspected),
        COUNTERFEIT_SUSPECTED,
    ),
    (
        Meaning::Problem(Category::ExpiredOrNearExpiry),
        EXPIRED_OR_NEAR_EXPIRY,
    ),
    (Meaning::Problem(Category::QualityDefect), QUALITY_DEFECT),
    (
        Meaning::Problem(Category::DamagedInTransit),
        DAMAGED_IN_TRANSIT,
    ),
    (Meaning::Problem(Category::WrongItem), WRONG_ITEM),
    (Meaning::Problem(Category::MissingItem), MISSING_ITEM),
    (Meaning::Problem(Category::NotAsExpected), NOT_AS_EXPECTED),
    (Meaning::Question, QUESTIONS),
    (Meaning::QuestionWord, QUESTION_WORDS),
    (
        Meaning::Hint(Category::CounterfeitSuspected),
        COUNTERFEIT_HINTS,
    ),
    (Meaning::Hint(Category::ExpiredOrNearExpiry), EXPIRY_HINTS),
    (Meaning::Hint(Category::QualityDefect), QUALITY_HINTS),
    (Meaning::Hint(Category::DamagedInTransit), TRANSIT_HINTS),
    (Meaning::Hint(Category::WrongItem), WRONG_ITEM_HINTS),
    (Meaning::Hint(Category::MissingItem), MISSING_ITEM_HINTS),
    (
        Meaning::Hint(Category::NotAsExpected),
        NOT_AS_EXPECTED_HINTS,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn classified(text: &str) -> Classification {
        classify(text, &ComplaintContext::default())
    }

    fn category_of(text: &str) -> Category {
        classified(text).category
    }

    #[test]
    fn each_category_in_chinese() {
        let cases = [
            (
                "用了这个面霜脸上起了红疹，还很痒",
                Category::AdverseReaction,
            ),
            (
                "收到的口红怀疑是假货，和专柜的味道不一样",
                Category::CounterfeitSuspected,
            ),
            ("收到的眼霜已经过期三个月了", Category::ExpiredOrNearExpiry),
            ("精华打开就有一股酸臭味，分层了", Category::QualityDefect),
            (
                "快递到的时候瓶子碎了，精华洒了一箱",
                Category::DamagedInTransit,
            ),
            ("我买的是01号色，你们发错了", Category::WrongItem),
            ("订单三件只收到两件，少发了一瓶", Category::MissingItem),
            (
                "用着太油了，不喜欢，想七天无理由退货",
                Category::NotAsExpected,
            ),
            ("请问这款精华孕妇可以用吗？", Category::Inquiry),
        ];
        for (text, expected) in cases {
            assert_eq!(category_of(text), expected, "{text}");
        }
    }

    #[test]
    fn each_category_in_english() {
        let cases = [
            (
                "This toner gave me an itchy rash on my neck.",
                Category::AdverseReaction,
            ),
            (
                "I'm pretty sure this serum is a fake.",
                Category::CounterfeitSuspected,
            ),
            (
                "The cleanser I got expired in March.",
                Category::ExpiredOrNearExpiry,
            ),
            (
                "The cream has separated and smells rancid.",
                Category::QualityDefect,
            ),
            (
                "The glass bottle arrived shattered.",
                Category::DamagedInTransit,
            ),
            ("Wrong shade! I ordered Ivory.", Category::WrongItem),
            ("The toner was missing from my box.", Category::MissingItem),
            (
                "I don't like the texture, it's too greasy.",
                Category::NotAsExpected,
            ),
            (
                "Can I use the vitamin C serum with retinol?",
                Category::Inquiry,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(category_of(text), expected, "{text}");
        }
    }

    #[test]
    fn mixed_language_misspelled_and_full_width_text() {
        assert_eq!(
            category_of("面霜用了之后脸好red好痒"),
            Category::AdverseReaction
        );
        assert_eq!(
            category_of("I had an alergic reaction"),
            Category::AdverseReaction
        );
        assert_eq!(category_of("terrible alergy"), Category::AdverseReaction);
        assert_eq!(category_of("allergey again"), Category::AdverseReaction);
        assert_eq!(category_of("so much irritaion"), Category::AdverseReaction);
        assert_eq!(category_of("bottle leakd"), Category::DamagedInTransit);
        assert_eq!(category_of("arrived brokn"), Category::DamagedInTransit);
        assert_eq!(
            category_of("the cream is expierd"),
            Category::ExpiredOrNearExpiry
        );
        assert_eq!(category_of("recieved wrong"), Category::WrongItem);
        // Full-width letters and punctuation, mixed case.
        let full_width = classified("ＡＬＬＥＲＧＩＣ　ＲＥＡＣＴＩＯＮ！！");
        assert_eq!(full_width.category, Category::AdverseReaction);
        assert_eq!(full_width.evidence, ["allergic", "reaction"]);
        assert_eq!(category_of("Bottle LEAKED"), Category::DamagedInTransit);
    }

    #[test]
    fn words_inside_words_do_not_match() {
        // "sue" in "issue", "er" in "after", "press" nowhere.
        let result = classified("Not an issue, I just press the pump and nothing else after");
        assert!(result.risk_flags.is_empty(), "{result:?}");
        assert_eq!(result.category, Category::Inquiry);
    }

    #[test]
    fn the_most_serious_problem_wins() {
        let result = classified("The bottle was leaking when it arrived and now I have a rash");
        assert_eq!(result.category, Category::AdverseReaction);
        assert_eq!(result.also_mentioned, [Category::DamagedInTransit]);

        let result = classified("发错色号就算了，收到的还是过期的，瓶子也漏了");
        assert_eq!(result.category, Category::ExpiredOrNearExpiry);
        assert_eq!(
            result.also_mentioned,
            [Category::DamagedInTransit, Category::WrongItem]
        );
    }

    #[test]
    fn each_urgent_sign_makes_a_reaction_urgent() {
        let urgent = [
            "用了眼霜眼皮肿得睁不开",
            "my face is swollen after the mask",
            "涂完之后有点喘不过气，脸也很痒",
            "I got a rash and had trouble breathing",
            "脸上起了好多小水泡",
            "The peel left blisters on my cheeks",
            "过敏了，今天去医院看了",
            "I had a reaction and ended up in the ER",
            "给宝宝用了之后屁股上全是红疹",
            "My baby got a rash from this lotion",
            "my daughter's face turned red and itchy",
        ];
        for text in urgent {
            let result = classified(text);
            assert_eq!(result.category, Category::AdverseReaction, "{text}");
            assert_eq!(result.severity, Severity::Urgent, "{text}");
        }
    }

    #[test]
    fn a_reaction_without_urgent_signs_is_normal() {
        for text in [
            "用完脸有点痒，还起皮",
            "Mild irritation and redness on my cheeks",
        ] {
            let result = classified(text);
            assert_eq!(result.category, Category::AdverseReaction, "{text}");
            assert_eq!(result.severity, Severity::Normal, "{text}");
        }
    }

    #[test]
    fn a_child_or_hospital_without_a_reaction_is_not_urgent() {
        let result = classified("The baby cream box arrived crushed");
        assert_eq!(result.category, Category::DamagedInTransit);
        assert_eq!(result.severity, Severity::Normal);
        assert_eq!(result.evidence, ["crushed"]);

        let result = classified("我是医院的护士，请问这款孩子可以用吗？");
        assert_eq!(result.category, Category::Inquiry);
        assert_eq!(result.severity, Severity::Normal);
    }

    #[test]
    fn negated_terms_do_not_count() {
        let result = classified("No allergy, I just don't like the smell");
        assert_eq!(result.category, Category::NotAsExpected);
        assert!(result.also_mentioned.is_empty(), "{result:?}");
        assert_eq!(result.evidence, ["don't like"]);

        assert_eq!(category_of("没有过敏，就是太油了"), Category::NotAsExpected);
        assert_eq!(category_of("没有过敏"), Category::Inquiry);
        assert_eq!(category_of("not allergic at all"), Category::Inquiry);
        assert_eq!(category_of("没有出现过敏"), Category::Inquiry);
        // A negation carries through a list, but not past the end of the clause.
        assert_eq!(category_of("没有红肿和瘙痒"), Category::Inquiry);
        assert_eq!(category_of("no rash or itching"), Category::Inquiry);
        assert_eq!(
            category_of("没有过敏，但是脸上起了红疹"),
            Category::AdverseReaction
        );
        // Words that look like negators but are not.
        assert_eq!(category_of("用了没多久就过敏了"), Category::AdverseReaction);
        assert_eq!(category_of("脸上起了不少红疹"), Category::AdverseReaction);
        assert_eq!(
            category_of("I've never had a reaction like this before"),
            Category::AdverseReaction
        );
    }

    #[test]
    fn negation_of_an_urgent_sign_keeps_the_case_normal() {
        let result = classified("有点痒，但是没有肿，也不用去医院");
        assert_eq!(result.category, Category::AdverseReaction);
        assert_eq!(result.severity, Severity::Normal);
    }

    #[test]
    fn threats_of_exposure_are_flagged_in_both_languages() {
        for text in [
            "再不处理我就去12315投诉，还要发小红书曝光你们",
            "I will post this on TikTok and call my lawyer",
            "收到的是假货，我要找律师",
        ] {
            let result = classified(text);
            assert_eq!(result.risk_flags, [RiskFlag::PublicOpinion], "{text}");
        }
        let result = classified("I will post this on TikTok");
        assert!(result.evidence.contains(&"tiktok".to_owned()), "{result:?}");
        assert!(classified("面霜漏了").risk_flags.is_empty());
    }

    #[test]
    fn repeat_complainant_from_the_threshold_on() {
        let text = "面霜漏了，律师函见";
        let once = classify(
            text,
            &ComplaintContext {
                earlier_cases_90d: 1,
            },
        );
        assert_eq!(once.risk_flags, [RiskFlag::PublicOpinion]);
        let twice = classify(
            text,
            &ComplaintContext {
                earlier_cases_90d: REPEAT_COMPLAINANT_CASES,
            },
        );
        assert_eq!(
            twice.risk_flags,
            [RiskFlag::PublicOpinion, RiskFlag::RepeatComplainant]
        );
    }

    #[test]
    fn evidence_lists_the_deciding_words_in_order() {
        let result = classified(
            "My son's face got swollen and itchy, we went to the hospital. Going on Weibo!",
        );
        assert_eq!(result.severity, Severity::Urgent);
        assert_eq!(
            result.evidence,
            ["my son", "swollen", "itchy", "hospital", "weibo"]
        );

        let result = classified("痒痒痒，好痒");
        assert_eq!(result.evidence, ["痒"]);

        // Words of less serious problems decide nothing and are not evidence.
        let result = classified("box arrived crushed and the serum smells off");
        assert_eq!(result.category, Category::QualityDefect);
        assert_eq!(result.evidence, ["smells off"]);
    }

    #[test]
    fn hints_decide_only_statements_that_name_no_problem() {
        // "I bought shade 01" points to a wrong item; asked about, it is a question.
        let result = classified("我买的是01号色，到手完全是另一个颜色");
        assert_eq!(result.category, Category::WrongItem);
        assert_eq!(result.evidence, ["买的是"]);
        assert_eq!(
            category_of("我买的是01号色，这个怎么用？"),
            Category::Inquiry
        );
        assert_eq!(category_of("开封之后保质期是多久？"), Category::Inquiry);
        assert_eq!(
            category_of("The mask I got is dated 2022"),
            Category::ExpiredOrNearExpiry
        );
        // English question words ask only in a text with a question mark.
        assert_eq!(
            category_of("The logo is crooked compared to what I bought in store"),
            Category::CounterfeitSuspected
        );
        // A named problem outranks any hint.
        assert_eq!(
            category_of("I ordered three but only received two"),
            Category::MissingItem
        );
    }

    #[test]
    fn medical_care_alone_reads_as_an_urgent_reaction() {
        let result = classified("面膜敷上去三分钟，现在在急诊输液");
        assert_eq!(result.category, Category::AdverseReaction);
        assert_eq!(result.severity, Severity::Urgent);
        assert_eq!(result.evidence, ["急诊", "输液"]);
    }

    #[test]
    fn empty_text_is_an_inquiry() {
        for text in ["", "   ", "\n\t　", "？？"] {
            let result = classified(text);
            assert_eq!(result.category, Category::Inquiry);
            assert_eq!(result.severity, Severity::Normal);
            assert!(result.evidence.is_empty());
            assert!(result.also_mentioned.is_empty());
            assert!(result.risk_flags.is_empty());
        }
    }

    #[test]
    fn classification_is_deterministic() {
        let text =
            "瓶子漏了，用了之后脸肿了，宝宝也起了红疹，我要去微博曝光！Also the wrong shade.";
        let context = ComplaintContext {
            earlier_cases_90d: 3,
        };
        let first = classify(text, &context);
        for _ in 0..10 {
            assert_eq!(classify(text, &context), first);
        }
    }

    #[test]
    fn serialises_with_snake_case_names() {
        let value = serde_json::to_value(classified("过敏了，脸肿")).unwrap();
        assert_eq!(value["category"], "adverse_reaction");
        assert_eq!(value["severity"], "urgent");
    }

    #[test]
    fn tables_do_not_contradict() {
        // One spelling with two meanings would silently take the first table's meaning.
        let mut seen: Vec<(String, Meaning)> = Vec::new();
        for (meaning, terms) in LEXICON_TABLES {
            for term in *terms {
                for spelling in expand_alternatives(term) {
                    assert_eq!(
                        normalise(&spelling).into_iter().collect::<String>(),
                        spelling,
                        "lexicon entries are written lower-case and half-width"
                    );
                    match seen.iter().find(|(p, _)| *p == spelling) {
                        Some((_, first)) => {
                            assert_eq!(first, meaning, "{spelling} listed with two meanings")
                        }
                        None => seen.push((spelling, *meaning)),
                    }
                }
            }
        }
    }
}

import { mentionPattern } from '../../src/domain/mention-pattern';

describe('mentionPattern: does free text name the person?', () => {
  const lee = mentionPattern({ email: 'j.lee+hr@example.test', firstName: 'Jo', lastName: 'Lee' })!;

  it('finds the email anywhere, in any case', () => {
    expect(lee.test('ask J.LEE+HR@EXAMPLE.TEST about it')).toBe(true);
    expect(lee.test('mail:j.lee+hr@example.test.')).toBe(true);
  });

  it('finds a name as a word, in any case, next to punctuation', () => {
    for (const text of ['Lee left', "LEE's laptop", 'covers for lee.', '(Jo)', 'lee']) {
      expect([text, lee.test(text)]).toEqual([text, true]);
    }
  });

  it('does not find a name inside another word, nor escaped characters as patterns', () => {
    for (const text of ['fleet renewal', 'asleep', 'Joker', 'jxleehr@examplextest', 'Q3 plan']) {
      expect([text, lee.test(text)]).toEqual([text, false]);
    }
  });

  it('matches accented names and the parts of a multi-part name, not their short particles', () => {
    const pattern = mentionPattern({ firstName: 'Mary Ann', lastName: 'de la Cruz-Núñez' })!;
    for (const text of [
      'Núñez moved on',
      'mary ann left',
      'ANN is gone',
      'Cruz',
      'de la cruz-núñez',
    ]) {
      expect([text, pattern.test(text)]).toEqual([text, true]);
    }
    for (const text of ['a la carte', 'de facto', 'Annual review']) {
      expect([text, pattern.test(text)]).toEqual([text, false]);
    }
  });

  it('skips one-letter names, and gives null when there is nothing to look for', () => {
    expect(mentionPattern({ firstName: 'A', lastName: ' ' })).toBeNull();
    expect(mentionPattern({})).toBeNull();
    expect(mentionPattern({ email: null, firstName: 'X', lastName: 'Yu' })!.test('a b c')).toBe(
      false,
    );
  });
});

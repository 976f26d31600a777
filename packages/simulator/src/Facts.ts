/**
 * The simulator's built-in knowledge: a small fact table and three datasets whose answers the solver
 * reproduces exactly, so end-to-end tests can compute expected outputs (and build train/dev sets) without
 * hard-coding strings in two places.
 */

/** One question the simulated model can answer from "memory". */
export interface Fact {
  /** The canonical way to ask it. */
  readonly question: string
  readonly answer: string
  /** The entity asked about; context passages that mention it are preferred over the table. */
  readonly subject: string
  /**
   * Phrases that must all occur in a question for it to match; `|` separates alternatives.
   * Kept as plain words (not regexes) so any phrasing that names the relation and subject matches.
   */
  readonly keys: ReadonlyArray<string>
}

const capital = (country: string, city: string): Fact => ({
  question: `What is the capital of ${country}?`,
  answer: city,
  subject: country,
  keys: ["capital", country.toLowerCase()]
})

const author = (title: string, writer: string): Fact => ({
  question: `Who wrote ${title}?`,
  answer: writer,
  subject: title,
  keys: ["wrote|write|written|author|writer", title.toLowerCase()]
})

const symbol = (element: string, sym: string): Fact => ({
  question: `What is the chemical symbol for ${element}?`,
  answer: sym,
  subject: element,
  keys: ["symbol", element.toLowerCase()]
})

/** About 45 facts: capitals, authors, chemical symbols, planets and a few general-knowledge items. */
export const facts: ReadonlyArray<Fact> = [
  capital("France", "Paris"),
  capital("Germany", "Berlin"),
  capital("Italy", "Rome"),
  capital("Spain", "Madrid"),
  capital("Japan", "Tokyo"),
  capital("Canada", "Ottawa"),
  capital("Australia", "Canberra"),
  capital("Brazil", "Brasilia"),
  capital("Egypt", "Cairo"),
  capital("Kenya", "Nairobi"),
  capital("India", "New Delhi"),
  capital("Mexico", "Mexico City"),
  capital("Portugal", "Lisbon"),
  capital("Norway", "Oslo"),
  capital("Argentina", "Buenos Aires"),
  capital("China", "Beijing"),
  capital("Russia", "Moscow"),
  capital("Greece", "Athens"),
  capital("Sweden", "Stockholm"),
  capital("Ireland", "Dublin"),
  capital("Netherlands", "Amsterdam"),
  author("Hamlet", "William Shakespeare"),
  author("Pride and Prejudice", "Jane Austen"),
  author("1984", "George Orwell"),
  author("War and Peace", "Leo Tolstoy"),
  author("Don Quixote", "Miguel de Cervantes"),
  author("The Odyssey", "Homer"),
  author("Moby-Dick", "Herman Melville"),
  author("Frankenstein", "Mary Shelley"),
  author("The Great Gatsby", "F. Scott Fitzgerald"),
  symbol("gold", "Au"),
  symbol("silver", "Ag"),
  symbol("iron", "Fe"),
  symbol("sodium", "Na"),
  symbol("oxygen", "O"),
  symbol("potassium", "K"),
  {
    question: "What is the largest planet in the solar system?",
    answer: "Jupiter",
    subject: "largest planet",
    keys: ["largest|biggest", "planet"]
  },
  {
    question: "Which planet is closest to the Sun?",
    answer: "Mercury",
    subject: "closest planet",
    keys: ["closest|nearest", "planet", "sun"]
  },
  { question: "Which planet is known as the Red Planet?", answer: "Mars", subject: "Red Planet", keys: ["red planet"] },
  { question: "What is the hottest planet?", answer: "Venus", subject: "hottest planet", keys: ["hottest", "planet"] },
  {
    question: "Which planet has the most prominent rings?",
    answer: "Saturn",
    subject: "rings",
    keys: ["planet", "rings|ringed"]
  },
  {
    question: "How many planets are in the solar system?",
    answer: "8",
    subject: "planets",
    keys: ["how many", "planets"]
  },
  { question: "How many continents are there?", answer: "7", subject: "continents", keys: ["how many", "continents"] },
  {
    question: "What is the largest ocean on Earth?",
    answer: "Pacific Ocean",
    subject: "largest ocean",
    keys: ["largest|biggest", "ocean"]
  },
  {
    question: "Who painted the Mona Lisa?",
    answer: "Leonardo da Vinci",
    subject: "Mona Lisa",
    keys: ["painted|painter|artist", "mona lisa"]
  },
  {
    question: "What is the boiling point of water in Celsius?",
    answer: "100",
    subject: "water",
    keys: ["boiling point", "water"]
  }
]

/** A question with its expected answer (strings, the way DSPy examples usually carry them). */
export interface QaExample {
  readonly question: string
  readonly answer: string
}

/** A text with its expected sentiment label. */
export interface SentimentExample {
  readonly text: string
  readonly sentiment: "positive" | "negative" | "neutral"
}

const arithmetic: ReadonlyArray<QaExample> = [
  { question: "What is 12 + 30?", answer: "42" },
  { question: "What is 7 * 6?", answer: "42" },
  { question: "Compute 15 minus 4", answer: "11" },
  { question: "What is 100 divided by 4?", answer: "25" },
  { question: "What is 9 times 8?", answer: "72" },
  { question: "What is 3.5 + 1.25?", answer: "4.75" },
  { question: "Calculate 81 / 9", answer: "9" },
  { question: "What is 250 - 75?", answer: "175" },
  { question: "What is 14 plus 28?", answer: "42" },
  { question: "What is 6 multiplied by 7?", answer: "42" },
  { question: "What is 1000 - 1?", answer: "999" },
  { question: "What is 2.5 * 4?", answer: "10" },
  { question: "What is 7 divided by 2?", answer: "3.5" },
  { question: "What is 13 + 29 + 58?", answer: "100" },
  { question: "What is 2 + 3 * 4?", answer: "14" },
  { question: "What is 45 - 50?", answer: "-5" },
  { question: "What is 0.1 + 0.2?", answer: "0.3" },
  { question: "Compute 11 * 11", answer: "121" },
  { question: "What is 144 / 12?", answer: "12" },
  { question: "What is 123 plus 456?", answer: "579" },
  { question: "What is 20% of 150?", answer: "30" },
  { question: "What is the sum of 17 and 25?", answer: "42" },
  { question: "What is the product of 8 and 9?", answer: "72" },
  { question: "Subtract 18 from 60", answer: "42" }
]

const qa: ReadonlyArray<QaExample> = facts.map((f) => ({ question: f.question, answer: f.answer }))

const sentiment: ReadonlyArray<SentimentExample> = [
  { text: "I absolutely love this phone, the battery is amazing.", sentiment: "positive" },
  { text: "The movie was a wonderful surprise and the acting was great.", sentiment: "positive" },
  { text: "Fantastic service, friendly staff, would recommend.", sentiment: "positive" },
  { text: "This is the best coffee I have ever had.", sentiment: "positive" },
  { text: "The hotel room was clean and the view was beautiful.", sentiment: "positive" },
  { text: "What a delightful little book, I enjoyed every page.", sentiment: "positive" },
  { text: "Excellent build quality and a perfect fit.", sentiment: "positive" },
  { text: "I am so happy with how the project turned out.", sentiment: "positive" },
  { text: "The food was awful and the waiter was rude.", sentiment: "negative" },
  { text: "Terrible experience, the package arrived broken.", sentiment: "negative" },
  { text: "I hate waiting on hold for an hour.", sentiment: "negative" },
  { text: "This was the worst purchase I have made this year.", sentiment: "negative" },
  { text: "The plot was boring and the ending was disappointing.", sentiment: "negative" },
  { text: "The app is slow, buggy and useless.", sentiment: "negative" },
  { text: "The movie was not good at all.", sentiment: "negative" },
  { text: "Horrible customer support, a total waste of money.", sentiment: "negative" },
  { text: "The meeting is scheduled for Tuesday at 3 pm.", sentiment: "neutral" },
  { text: "The package contains two cables and a manual.", sentiment: "neutral" },
  { text: "Paris is the capital of France.", sentiment: "neutral" },
  { text: "The store opens at nine in the morning.", sentiment: "neutral" },
  { text: "The report has twelve pages.", sentiment: "neutral" },
  { text: "It was not bad, actually.", sentiment: "positive" },
  { text: "The train leaves from platform four.", sentiment: "neutral" },
  { text: "I was sad and angry about the cancelled flight.", sentiment: "negative" }
]

/**
 * Ready-made datasets the simulator answers perfectly, so optimizers and evaluators have a ground truth
 * to converge to: `arithmetic` and `capitals`/`facts` are `{question, answer}`, `sentiment` is
 * `{text, sentiment}`.
 */
export const datasets: {
  readonly arithmetic: ReadonlyArray<QaExample>
  readonly facts: ReadonlyArray<QaExample>
  readonly capitals: ReadonlyArray<QaExample>
  readonly sentiment: ReadonlyArray<SentimentExample>
} = {
  arithmetic,
  facts: qa,
  capitals: qa.filter((e) => e.question.startsWith("What is the capital of")),
  sentiment
}

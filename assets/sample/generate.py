#!/usr/bin/env python3
"""Generate crossrec's bundled sample dataset: a shop's products and a blog's
articles, with users whose latent interests span both.

    python3 assets/sample/generate.py     # rewrites the CSV files beside it

The item texts below are hand-written. The interactions are drawn with a
fixed seed: every user has one to three topics of interest (with weights);
each interaction picks a topic by those weights (or, 15 % of the time, any
topic) and then an item of that topic. Users who like a topic in the shop read
about it on the blog, so a cross-domain recommender has a real signal to find.
A few users are active in one domain only, and some wrote a short text about
themselves. Standard library only; the same seed gives the same files.
"""

import csv
import random
from pathlib import Path

SEED = 20261128
HERE = Path(__file__).resolve().parent

# topic -> (products as (title, description), articles as (title, body), user phrases)
TOPICS = {
    "coffee": (
        [
            ("Burr coffee grinder with 40 settings", "Conical steel burrs grind evenly from espresso-fine to French-press coarse."),
            ("Pour-over dripper, ceramic", "A cone dripper with spiral ribs for an even extraction and a clean cup."),
            ("Gooseneck electric kettle", "Variable temperature and a slow, precise pour for filter coffee and tea."),
            ("Single-origin Ethiopian coffee beans", "Light roast with notes of jasmine, bergamot and lemon; whole beans, 500 g."),
            ("Espresso machine with steam wand", "15-bar pump, a 58 mm portafilter and a wand for silky milk foam."),
            ("French press, 1 litre", "Double-walled stainless steel keeps coffee hot; a fine mesh filter keeps grounds out."),
            ("Digital coffee scale with timer", "Weighs to 0.1 g and times your brew so every cup is repeatable."),
            ("Loose-leaf green tea sampler", "Sencha, gyokuro and genmaicha in resealable tins."),
            ("Cold brew coffee maker", "Steep coarse grounds overnight for a smooth, low-acid concentrate."),
            ("Milk frother, handheld", "Battery-powered whisk for lattes, cappuccinos and matcha."),
            ("Paper filters for pour-over, 100 pack", "Oxygen-bleached filters that leave no papery taste."),
            ("Travel mug with leak-proof lid", "Keeps coffee hot for six hours on the commute."),
        ],
        [
            ("How to dial in espresso at home", "Grind size, dose and yield: change one variable at a time and taste as you go."),
            ("Pour-over vs French press: which brew suits you?", "Filter coffee tastes clean and bright; immersion brewing gives a heavier body."),
            ("Why fresh grinding matters", "Ground coffee loses its aroma within minutes, so grind just before brewing."),
            ("A beginner's guide to coffee origins", "Ethiopian beans taste floral, Colombian nutty, Sumatran earthy and heavy."),
            ("Making cold brew that is not bitter", "Use a coarse grind, cold water and a twelve-hour steep, then dilute to taste."),
            ("The science of milk foam", "Proteins trap air bubbles; whole milk at 60 °C gives the silkiest microfoam."),
            ("Green tea brewing temperatures explained", "Boiling water scorches delicate leaves; aim for 70 to 80 °C."),
            ("Choosing your first espresso machine", "Pump pressure matters less than temperature stability and a good grinder."),
            ("Water chemistry for better coffee", "Too soft and coffee tastes flat, too hard and it tastes chalky."),
            ("Latte art: pouring your first heart", "Start with well-textured milk, pour high, then drop close and wiggle."),
            ("Storing coffee beans the right way", "Keep beans airtight, dark and cool; the freezer is fine for long storage."),
            ("Caffeine myths and facts", "A light roast has slightly more caffeine by weight than a dark roast."),
        ],
        ["I drink far too much coffee and love trying new beans", "espresso nerd, always tweaking my grind"],
    ),
    "baking": (
        [
            ("Stand mixer, 5 quart", "Ten speeds with a dough hook, flat beater and whisk for bread and cakes."),
            ("Sourdough proofing basket with liner", "Rattan banneton that gives loaves a floured spiral pattern."),
            ("Digital kitchen scale for baking", "Measure flour and water in grams for consistent bread."),
            ("Non-stick loaf pan, 9 x 5 inch", "Heavy-gauge steel bakes banana bread and sandwich loaves evenly."),
            ("Silicone baking mats, set of two", "Reusable liners for cookies and macarons; nothing sticks."),
            ("Dutch oven, enamelled cast iron", "Traps steam for a crackling crust on no-knead bread."),
            ("Bench scraper and dough cutter", "Stainless blade for shaping, dividing and cleaning the counter."),
            ("Bread flour, strong white, 5 kg", "High-protein flour for chewy, open-crumb loaves."),
            ("Cake decorating kit with piping tips", "Twenty-four tips, bags and a turntable for layer cakes."),
            ("Oven thermometer", "Most ovens run hot or cold; know the real temperature."),
            ("Rolling pin, French tapered", "Solid maple pin for pie crusts, pastry and cookies."),
            ("Cooling rack, stackable", "Lets air circulate under cookies and loaves so they stay crisp."),
        ],
        [
            ("Your first sourdough starter in seven days", "Flour, water and patience: feed daily and watch for bubbles and a tangy smell."),
            ("Why bakers weigh instead of measuring cups", "A cup of flour can vary by thirty grams; a scale removes the guesswork."),
            ("No-knead bread in a Dutch oven", "Time does the kneading; a hot covered pot gives bakery-style crust."),
            ("The secret to chewy chocolate chip cookies", "Brown the butter, use more brown sugar and rest the dough overnight."),
            ("Understanding gluten development", "Kneading aligns gluten strands so dough can trap gas and rise."),
            ("How to laminate croissant dough", "Fold cold butter into dough again and again to build hundreds of layers."),
            ("Baking at high altitude", "Lower air pressure makes cakes rise too fast; reduce leavening and sugar."),
            ("Frosting a layer cake smoothly", "A crumb coat, a chilled cake and a bench scraper make the finish clean."),
            ("Banana bread three ways", "Classic, with walnuts, or swirled with dark chocolate."),
            ("Troubleshooting a dense loaf", "Under-proofing, old yeast or too little water are the usual culprits."),
            ("Pie crust that does not shrink", "Keep the butter cold, rest the dough and blind-bake with weights."),
            ("Bread scoring patterns for beginners", "A single confident slash lets the loaf open where you want it."),
        ],
        ["weekend baker, sourdough every Saturday", "I bake cakes for every birthday in the family"],
    ),
    "hiking": (
        [
            ("Waterproof hiking boots", "Leather uppers, a breathable membrane and grippy lugged soles."),
            ("Trekking poles, carbon, pair", "Light collapsible poles that save your knees on descents."),
            ("Daypack, 28 litres", "Ventilated back panel, hydration sleeve and rain cover."),
            ("Two-person backpacking tent", "Freestanding, 1.6 kg, pitches in five minutes."),
            ("Down sleeping bag, rated to -5 °C", "Packs to the size of a loaf of bread."),
            ("Headlamp, 400 lumens, rechargeable", "Red light mode preserves night vision at camp."),
            ("Water filter for backcountry", "Removes bacteria and protozoa from streams and lakes."),
            ("Merino wool hiking socks, 3 pairs", "Cushioned, odour-resistant and blister-preventing."),
            ("Compact camping stove", "Boils a litre of water in three minutes on a gas canister."),
            ("Trail map compass with mirror", "Declination adjustment for accurate navigation."),
            ("Insulated rain jacket", "Windproof shell with synthetic fill for wet, cold trails."),
            ("First aid kit for hikers", "Blister care, bandages and a foil blanket in a light pouch."),
        ],
        [
            ("Ten essentials for every day hike", "Navigation, light, sun protection, first aid, a knife, fire, shelter, food, water and layers."),
            ("Breaking in new hiking boots", "Wear them around town for a week before a long trail."),
            ("Planning your first overnight backpacking trip", "Pick a short route, test your tent at home and pack light."),
            ("How to purify water in the wild", "Filters, chemical tablets and boiling each have their place."),
            ("Layering for mountain weather", "Base layer for sweat, mid layer for warmth, shell for wind and rain."),
            ("Reading a topographic map", "Contour lines close together mean steep ground."),
            ("Leave no trace: seven principles", "Camp on durable surfaces and pack out everything you bring."),
            ("Preventing blisters on long hikes", "Good socks, well-fitted boots and tape on hot spots early."),
            ("Lightweight camp cooking", "One pot, dehydrated meals and a small stove keep the pack light."),
            ("Hiking with trekking poles: technique", "Shorten them uphill, lengthen them downhill."),
            ("Best autumn hikes for colour", "Maple forests peak in mid-October; go on a weekday."),
            ("What to do if you get lost on a trail", "Stop, think, observe and plan before moving."),
        ],
        ["happiest on a mountain trail", "I go backpacking every summer"],
    ),
    "photography": (
        [
            ("Mirrorless camera body, 24 MP", "Fast autofocus with eye detection and 4K video."),
            ("50 mm f/1.8 prime lens", "Sharp, light and great for portraits with soft background blur."),
            ("Carbon fibre travel tripod", "Folds to 40 cm and holds 8 kg; ball head included."),
            ("Camera backpack with side access", "Padded dividers for two bodies and five lenses."),
            ("Circular polarizing filter, 67 mm", "Cuts reflections and deepens blue skies."),
            ("Spare camera batteries, two pack", "With a dual USB charger for long shoots."),
            ("SD memory card, 128 GB, V60", "Fast enough for burst shooting and 4K video."),
            ("Lens cleaning kit", "Blower, brush, microfibre cloths and cleaning fluid."),
            ("Portable LED video light", "Adjustable colour temperature for interviews and product shots."),
            ("Remote shutter release", "Trigger long exposures without shaking the camera."),
            ("Photo printer, A4", "Six-ink printer for gallery-quality prints at home."),
            ("Reflector, 5-in-1, 80 cm", "Bounce and diffuse light for natural portraits."),
        ],
        [
            ("Understanding the exposure triangle", "Aperture, shutter speed and ISO trade light against depth, motion and noise."),
            ("Why every photographer should own a 50 mm lens", "It is cheap, sharp and teaches you to move your feet."),
            ("Long exposure photography at night", "A tripod, a remote release and patience turn traffic into trails of light."),
            ("Composition beyond the rule of thirds", "Leading lines, framing and negative space guide the eye."),
            ("Shooting portraits in natural light", "Open shade and a reflector flatter faces more than midday sun."),
            ("RAW vs JPEG: what you gain", "RAW files keep more highlight and shadow detail for editing."),
            ("Landscape photography with polarizers", "Rotate the filter to control reflections on water and leaves."),
            ("Cleaning your camera sensor safely", "Use a blower first; wet swabs only when spots persist."),
            ("Golden hour and blue hour explained", "Low sun gives warm light; after sunset the sky turns deep blue."),
            ("Getting sharp photos handheld", "Use a shutter speed faster than one over the focal length."),
            ("Editing workflow for beginners", "Straighten, expose, colour, then local adjustments."),
            ("Printing your photos at home", "Calibrate your screen and choose the right paper."),
        ],
        ["amateur photographer, mostly landscapes", "I carry my camera everywhere"],
    ),
    "gardening": (
        [
            ("Raised garden bed kit, cedar", "Rot-resistant cedar bed, 120 x 60 cm, no tools needed."),
            ("Heirloom tomato seed collection", "Twelve varieties from cherry to beefsteak."),
            ("Ergonomic pruning shears", "Bypass blades for clean cuts on stems up to 2 cm."),
            ("Compost bin, 300 litres", "Turn kitchen scraps into rich soil in three months."),
            ("Drip irrigation kit", "Waters beds slowly at the roots and saves water."),
            ("Garden kneeler and seat", "Flip it over to sit; padded to protect your knees."),
            ("Organic potting mix", "Peat-free blend with worm castings for containers."),
            ("Watering can, 9 litres, galvanized", "Long spout and a rose head for seedlings."),
            ("Grow lights for seedlings", "Full-spectrum LED bars on a timer for indoor starts."),
            ("Gardening gloves, thorn-proof", "Goatskin leather with long cuffs for roses."),
            ("Herb garden starter kit", "Basil, parsley, coriander and thyme with pots and soil."),
            ("Soil pH test kit", "Know whether your beds suit blueberries or brassicas."),
        ],
        [
            ("Growing tomatoes from seed", "Start indoors eight weeks before the last frost and harden off slowly."),
            ("Building a raised bed garden", "Raised beds warm earlier in spring and drain well."),
            ("Composting for beginners", "Balance green scraps with brown leaves and keep the pile moist."),
            ("When and how to prune roses", "Prune in late winter just above an outward-facing bud."),
            ("Watering wisely in summer", "Water deeply and early in the morning, at the roots."),
            ("A kitchen herb garden on a windowsill", "Basil loves sun, parsley tolerates shade, mint needs its own pot."),
            ("Understanding soil pH", "Most vegetables like slightly acidic soil around 6.5."),
            ("Companion planting that works", "Marigolds deter pests; basil grows well beside tomatoes."),
            ("Starting seeds under grow lights", "Keep lights a few centimetres above seedlings to stop them stretching."),
            ("Organic pest control", "Encourage ladybirds and use row covers before reaching for sprays."),
            ("Planning a vegetable garden layout", "Put tall crops on the north side so they do not shade the rest."),
            ("Saving seeds from heirloom vegetables", "Let the best fruits ripen fully and dry the seeds well."),
        ],
        ["growing vegetables in my backyard", "my tomatoes are my pride"],
    ),
    "running": (
        [
            ("Cushioned road running shoes", "Responsive foam for long miles on pavement."),
            ("GPS running watch with heart rate", "Tracks pace, distance and training load."),
            ("Running belt for phone and keys", "Bounce-free pouch that fits any phone."),
            ("Compression socks for recovery", "Graduated compression to reduce calf soreness."),
            ("Foam roller, high density", "Release tight muscles after hard workouts."),
            ("Reflective running vest", "High-visibility vest for early morning runs."),
            ("Energy gels, variety pack", "Fast carbohydrates for races and long runs."),
            ("Trail running shoes", "Aggressive grip and a rock plate for rough terrain."),
            ("Lightweight running jacket", "Wind-resistant, packs into its own pocket."),
            ("Hydration vest, 5 litres", "Soft flasks up front for trail races."),
            ("Anti-chafe balm", "Prevents rubbing on marathon day."),
            ("Resistance bands set", "Strength exercises for runners' hips and glutes."),
        ],
        [
            ("Couch to 5K in nine weeks", "Alternate running and walking, and add a minute each week."),
            ("How to choose running shoes", "Fit matters more than technology; try them late in the day."),
            ("Training by heart rate zones", "Most of your running should be easy enough to talk."),
            ("Fuelling for your first marathon", "Practise taking gels on long runs, not on race day."),
            ("Foam rolling: does it help?", "It eases soreness and improves range of motion for a while."),
            ("Running safely in the dark", "Wear reflective gear and a light, and run against traffic."),
            ("Getting started with trail running", "Slow down, shorten your stride and watch your feet."),
            ("Strength training for runners", "Strong hips and glutes prevent common running injuries."),
            ("Recovering after a long run", "Eat protein and carbohydrate within an hour and sleep well."),
            ("Avoiding shin splints", "Increase mileage gradually and strengthen your calves."),
            ("Pacing strategy for a half marathon", "Start slower than goal pace and finish strong."),
            ("Running in hot weather", "Run early, drink to thirst and slow your pace."),
        ],
        ["training for my first marathon", "I run every morning before work"],
    ),
    "cycling": (
        [
            ("Road bike helmet with MIPS", "Light, ventilated and tested for rotational impacts."),
            ("Bike repair multi-tool", "Hex keys, screwdrivers and a chain breaker in one."),
            ("Floor pump with gauge", "Reaches 160 psi for road and mountain tyres."),
            ("Front and rear bike lights", "USB-rechargeable, visible from 500 metres."),
            ("Padded cycling shorts", "Chamois pad for comfort on long rides."),
            ("Smart indoor bike trainer", "Direct drive trainer that connects to training apps."),
            ("Bike lock, hardened steel U-lock", "Resists bolt cutters and leverage attacks."),
            ("Clipless pedals and cleats", "Efficient power transfer for road riding."),
            ("Chain lubricant, wet conditions", "Keeps drivetrains quiet in the rain."),
            ("Handlebar bag for bikepacking", "Waterproof roll bag for a sleeping bag or jacket."),
            ("Puncture repair kit", "Patches, tyre levers and glue in a saddle pouch."),
            ("Cycling computer with GPS", "Turn-by-turn navigation and ride data."),
        ],
        [
            ("Fixing a flat tyre on the road", "Find the cause, check the tyre for thorns and seat the tube carefully."),
            ("Indoor training through winter", "Structured trainer workouts keep your fitness until spring."),
            ("Setting up your bike fit", "Saddle height affects power and knee health most."),
            ("Cleaning and lubing your chain", "A clean drivetrain shifts better and lasts longer."),
            ("Choosing a bike lock", "Use a U-lock through the frame and rear wheel."),
            ("Riding safely in traffic", "Be visible, predictable and take the lane when needed."),
            ("Bikepacking: travelling light on two wheels", "Frame bags and a handlebar roll replace heavy panniers."),
            ("Switching to clipless pedals", "Practise unclipping on grass before riding in traffic."),
            ("Tyre pressure explained", "Wider tyres at lower pressure roll fast and comfortably."),
            ("Your first century ride", "Eat every forty minutes and ride at a steady pace."),
            ("Commuting by bike", "Mudguards, lights and a rack make daily riding easy."),
            ("Climbing hills efficiently", "Shift early, stay seated and keep a steady cadence."),
        ],
        ["I commute by bike all year", "road cyclist, love long weekend rides"],
    ),
    "cooking": (
        [
            ("Chef's knife, 8 inch, German steel", "Full tang, balanced and razor sharp for everyday prep."),
            ("Cast iron skillet, 12 inch", "Pre-seasoned pan for searing, frying and baking."),
            ("Stainless steel saucepan set", "Tri-ply construction heats evenly on every hob."),
            ("Wooden cutting board, end grain", "Gentle on knife edges and self-healing."),
            ("Whetstone sharpening kit, 1000/6000", "Restore a razor edge on kitchen knives."),
            ("Instant-read meat thermometer", "Reads in two seconds for perfect steaks and roasts."),
            ("Spice rack with 20 jars", "Labelled glass jars and a rotating stand."),
            ("Pressure cooker, 6 litres", "Cooks beans, stews and rice in a fraction of the time."),
            ("Microplane zester grater", "For citrus zest, garlic, ginger and hard cheese."),
            ("Wok, carbon steel, 14 inch", "High heat stir-frying with proper wok hei."),
            ("Mortar and pestle, granite", "Grind spices and make pesto the traditional way."),
            ("Mandoline slicer with guard", "Uniform slices for gratins and salads."),
        ],
        [
            ("Knife skills every home cook needs", "Learn the claw grip, the rocking cut and how to dice an onion."),
            ("Seasoning and caring for cast iron", "Heat a thin layer of oil until it smokes to build a non-stick surface."),
            ("How to sharpen a knife on a whetstone", "Hold a steady angle and work from coarse to fine grit."),
            ("Searing meat for a perfect crust", "Dry the surface, heat the pan well and do not crowd it."),
            ("Cooking with a meat thermometer", "Pull steak at 52 °C for medium-rare; it rises as it rests."),
            ("Building a spice pantry", "Toast whole spices and grind them fresh for more flavour."),
            ("Weeknight stir-fry technique", "Prep everything first; the cooking takes only minutes."),
            ("Pressure cooking beans from dry", "No soaking needed: thirty minutes under pressure."),
            ("Making pesto by hand", "A mortar and pestle bruises basil for a deeper flavour."),
            ("Choosing the right cookware", "Stainless for sauces, cast iron for searing, non-stick for eggs."),
            ("Cutting boards: wood or plastic?", "Wood is kinder to knives; both are safe when cleaned well."),
            ("Meal prep for a busy week", "Cook grains and proteins on Sunday and mix them all week."),
        ],
        ["home cook who loves a sharp knife", "I cook dinner from scratch every night"],
    ),
    "yoga": (
        [
            ("Non-slip yoga mat, 6 mm", "Cushioned natural rubber with alignment lines."),
            ("Cork yoga blocks, pair", "Firm support for standing and seated poses."),
            ("Meditation cushion, buckwheat", "Raises the hips for comfortable cross-legged sitting."),
            ("Yoga strap, 2.5 metres", "Deepens stretches and helps with alignment."),
            ("Aromatherapy diffuser", "Ultrasonic diffuser with soft light for a calm room."),
            ("Acupressure mat and pillow", "Relaxes tense back and neck muscles."),
            ("Yoga bolster, rectangular", "Supports restorative and yin practice."),
            ("Weighted blanket, 7 kg", "Calming pressure for deeper sleep."),
            ("Singing bowl set", "Hand-hammered bowl with a mallet for meditation."),
            ("Balance board", "Improves stability and core strength."),
            ("Herbal sleep tea", "Chamomile, lavender and lemon balm."),
            ("Journal for mindfulness", "Daily prompts for gratitude and reflection."),
        ],
        [
            ("Yoga for beginners: ten poses to start", "Mountain, downward dog and child's pose build a gentle foundation."),
            ("Using props in your practice", "Blocks and straps bring the floor closer and make poses accessible."),
            ("A five-minute breathing meditation", "Count four breaths in, hold, and six breaths out."),
            ("Restorative yoga for stress", "Long, supported poses calm the nervous system."),
            ("Sleep better with an evening routine", "Dim lights, a warm drink and no screens before bed."),
            ("Building a home meditation corner", "A cushion, soft light and a quiet spot are enough."),
            ("Yin yoga explained", "Holding poses for minutes stretches connective tissue."),
            ("Yoga for runners and cyclists", "Open tight hips and hamstrings after training."),
            ("Mindful journaling", "Writing three good things each day shifts your attention."),
            ("Balance and core stability", "Single-leg poses strengthen ankles and deep core muscles."),
            ("Choosing a yoga mat", "Thicker mats cushion knees; natural rubber grips best."),
            ("Sound baths and singing bowls", "Resonant tones can help the mind settle."),
        ],
        ["yoga keeps me sane", "I meditate every morning"],
    ),
    "boardgames": (
        [
            ("Strategy board game: settlers and trading", "Build roads and cities, trade resources, 3 to 4 players."),
            ("Cooperative board game: stop the outbreaks", "Work together to cure diseases before time runs out."),
            ("Card game: deck-building kingdom", "Buy cards to build a better deck each turn."),
            ("Party game: word association", "Two teams, one spymaster each, lots of laughter."),
            ("Chess set, weighted wooden pieces", "Tournament size with a roll-up board."),
            ("Dice set for role-playing games", "Seven polyhedral dice in a velvet pouch."),
            ("Board game storage organiser", "Inserts that keep components sorted."),
            ("Two-player abstract strategy game", "Simple rules, deep tactics, games in twenty minutes."),
            ("Jigsaw puzzle, 1000 pieces", "A painted map of the world's spice routes."),
            ("Fantasy role-playing starter set", "Rules, adventure and pre-made characters for new groups."),
            ("Card sleeves, 200 pack", "Protect your cards from shuffling wear."),
            ("Trivia game, family edition", "Questions for kids and adults."),
        ],
        [
            ("Best board games for two players", "Short, tactical games that shine without a crowd."),
            ("Running your first role-playing session", "Prepare a short adventure and let the players lead."),
            ("Cooperative games for families", "Everyone wins or loses together, so no one sulks."),
            ("Chess openings for beginners", "Control the centre, develop knights and castle early."),
            ("Why deck-builders are so addictive", "Each game you craft a new engine from the same market."),
            ("Hosting a game night", "Pick a light opener, snacks that do not stain and one heavier game."),
            ("Organising your board game shelf", "Store boxes vertically and sort by player count."),
            ("Party games that break the ice", "Word and drawing games work with any group."),
            ("Painting miniatures: getting started", "Prime, base coat, wash and dry-brush highlights."),
            ("Teaching a game in five minutes", "Explain the goal first, then the turn, then the details."),
            ("Puzzles as a slow hobby", "Sort edge pieces first and work by colour."),
            ("Classic games worth revisiting", "Backgammon and go reward a lifetime of play."),
        ],
        ["we host a board game night every Friday", "chess player and puzzle lover"],
    ),
    "music": (
        [
            ("Acoustic guitar, solid spruce top", "Warm, balanced tone for beginners and players alike."),
            ("Clip-on guitar tuner", "Accurate chromatic tuning on the headstock."),
            ("Studio headphones, closed-back", "Flat response for mixing and critical listening."),
            ("USB audio interface, two inputs", "Record vocals and guitar with low latency."),
            ("Condenser microphone for vocals", "Cardioid pattern with a shock mount and pop filter."),
            ("Digital piano, 88 weighted keys", "Hammer action that feels like an acoustic piano."),
            ("Guitar strings, phosphor bronze", "Bright, long-lasting acoustic strings."),
            ("Bluetooth speaker, waterproof", "Twenty hours of rich sound for the garden or beach."),
            ("Metronome, digital", "Tempo, subdivisions and a tap function."),
            ("Vinyl record player with speakers", "Belt-driven turntable for your record collection."),
            ("Ukulele, concert size", "Mahogany body with a gig bag."),
            ("Guitar capo", "Quick-change capo for acoustic and electric guitars."),
        ],
        [
            ("Learning guitar as an adult", "Practise fifteen minutes a day and learn songs you love."),
            ("Tuning your guitar by ear and with a tuner", "Use a tuner until your ear learns the intervals."),
            ("Setting up a home recording studio", "An interface, a microphone and good headphones are enough to start."),
            ("Why practise with a metronome", "Steady time is the foundation of every style."),
            ("Choosing your first digital piano", "Weighted keys build the right finger strength."),
            ("How often to change guitar strings", "Every three months, or when they sound dull."),
            ("Getting started with vinyl", "A decent turntable and clean records make all the difference."),
            ("Ukulele chords for absolute beginners", "C, G, A minor and F play hundreds of songs."),
            ("Mixing on headphones", "Check your mix on several systems before you finish."),
            ("Using a capo creatively", "Change key without learning new chord shapes."),
            ("Ear training exercises", "Sing intervals and transcribe simple melodies."),
            ("Recording vocals at home", "Treat reflections with blankets and use a pop filter."),
        ],
        ["guitarist, recording songs in my bedroom", "I collect vinyl records"],
    ),
    "pets": (
        [
            ("Orthopedic dog bed, large", "Memory foam supports older dogs' joints."),
            ("No-pull dog harness", "Front clip reduces pulling on walks."),
            ("Interactive puzzle feeder", "Slows fast eaters and keeps dogs busy."),
            ("Retractable dog leash, 5 metres", "One-button brake and lock."),
            ("Grain-free dog food, salmon", "High-protein recipe for adult dogs."),
            ("Cat scratching post, sisal", "Tall, sturdy post that saves your sofa."),
            ("Self-cleaning cat litter box", "Automatic raking keeps the box fresh."),
            ("Pet hair remover roller", "Reusable roller for sofas and clothes."),
            ("Dog training clicker set", "Clicker training for fast, positive learning."),
            ("Collapsible travel water bowl", "Clips to a leash for walks and hikes."),
            ("Durable chew toys, set of five", "Tough rubber toys for heavy chewers."),
            ("Pet grooming brush", "Removes loose undercoat and reduces shedding."),
        ],
        [
            ("Leash training a pulling dog", "Stop when the leash goes tight and reward slack."),
            ("Clicker training basics", "Click the moment your dog does it right, then treat."),
            ("Caring for an older dog", "Soft beds, gentle walks and regular vet checks."),
            ("Keeping indoor cats happy", "Scratching posts, climbing spaces and play every day."),
            ("Choosing the right dog food", "Look for a named protein first and the right life stage."),
            ("Puzzle feeders and mental exercise", "A tired mind makes a calm dog."),
            ("Hiking with your dog", "Carry water, check paws and keep to dog-friendly trails."),
            ("Reducing shedding at home", "Brush weekly and feed a diet rich in omega-3."),
            ("Introducing a new cat to your home", "Start with a separate room and swap scents."),
            ("Safe chew toys for dogs", "Avoid toys small enough to swallow."),
            ("Travelling with pets", "Crate-train early and pack familiar bedding."),
            ("Litter box problems solved", "One box per cat plus one, cleaned daily."),
        ],
        ["proud owner of two rescue dogs", "cat person, obviously"],
    ),
}

N_BOTH = 80
N_PRODUCTS_ONLY = 10
N_ARTICLES_ONLY = 10
NOISE = 0.15


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_dataset(topics, out, seed, names):
    """Draws users and interactions over `topics` (as TOPICS) and writes the
    four CSV files into `out`. `names` gives the domains' names, the id
    prefixes and the column headers, so other languages reuse the draw."""
    rng = random.Random(seed)
    topic_names = list(topics)
    products, articles = {}, {}
    product_rows, article_rows = [], []
    for t, (prods, arts, _) in topics.items():
        products[t] = []
        articles[t] = []
        for title, desc in prods:
            pid = f"{names['product_prefix']}{len(product_rows) + 1:03d}"
            product_rows.append((pid, title, desc, t))
            products[t].append(pid)
        for title, body in arts:
            aid = f"{names['article_prefix']}{len(article_rows) + 1:03d}"
            article_rows.append((aid, title, body, t))
            articles[t].append(aid)

    interactions, user_texts = [], []
    users = (
        [(f"u{i:03d}", True, True) for i in range(1, N_BOTH + 1)]
        + [(f"shopper{i:02d}", True, False) for i in range(1, N_PRODUCTS_ONLY + 1)]
        + [(f"reader{i:02d}", False, True) for i in range(1, N_ARTICLES_ONLY + 1)]
    )
    clock = 1_700_000_000
    for user, shops, reads in users:
        liked = rng.sample(topic_names, rng.choice([1, 2, 2, 3]))
        weights = [rng.uniform(0.5, 1.0) for _ in liked]

        def pick(pool, taken):
            for _ in range(50):
                topic = rng.choice(topic_names) if rng.random() < NOISE else rng.choices(liked, weights)[0]
                item = rng.choice(pool[topic])
                if item not in taken:
                    return item, topic in liked
            return None, False

        for domain, active, pool, low, high in (
            (names["products"], shops, products, 4, 12),
            (names["articles"], reads, articles, 3, 10),
        ):
            if not active:
                continue
            taken = set()
            for _ in range(rng.randint(low, high)):
                item, on_topic = pick(pool, taken)
                if item is None:
                    continue
                taken.add(item)
                rating = rng.choice([4, 5, 5]) if on_topic else rng.choice([2, 3, 4])
                clock += rng.randint(600, 86_400)
                interactions.append((user, domain, item, rating, clock))
        if rng.random() < 0.3:
            phrases = [rng.choice(topics[t][2]) for t in liked]
            user_texts.append((user, names["joiner"].join(phrases)))

    write_csv(out / names["products_file"], names["product_columns"], product_rows)
    write_csv(out / names["articles_file"], names["article_columns"], article_rows)
    write_csv(out / "interactions.csv", ("user_id", "domain", "item_id", "rating", "timestamp"), interactions)
    write_csv(out / "user_texts.csv", ("user_id", "text"), user_texts)
    print(
        f"{len(product_rows)} {names['products']}, {len(article_rows)} {names['articles']}, "
        f"{len(users)} users, {len(interactions)} interactions, {len(user_texts)} user texts"
    )


NAMES = {
    "products": "products",
    "articles": "articles",
    "products_file": "products.csv",
    "articles_file": "articles.csv",
    "product_prefix": "P",
    "article_prefix": "A",
    "product_columns": ("item_id", "title", "description", "topic"),
    "article_columns": ("item_id", "title", "body", "topic"),
    "joiner": "; ",
}


def main():
    write_dataset(TOPICS, HERE, SEED, NAMES)


if __name__ == "__main__":
    main()

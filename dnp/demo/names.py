"""Common Swedish names for fictitious demo persons."""

GIRLS = (
    "Alice Maja Elsa Astrid Wilma Freja Olivia Selma Alma Ella Ebba Vera Saga Agnes Stella "
    "Ellen Signe Clara Alva Julia Elin Ines Tyra Lilly Leah Nora Ester Sara Meja Linnea Hedda "
    "Märta Siri Tilde Juni Amira Yasmin Fatima Zara Noor"
).split()
BOYS = (
    "Noah William Hugo Lucas Liam Oliver Elias Adam Matteo Alexander Vincent Leo Nils Theo "
    "Charlie Oscar Ludvig Frans Gustav Arvid Harry Elton Sixten Melvin Isak Viktor Malte Ivar "
    "Otto Albin Love Axel Filip Ali Omar Yusuf Mohammed Ibrahim Emil Kevin"
).split()
FAMILY = (
    "Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson "
    "Pettersson Jonsson Jansson Hansson Bengtsson Jönsson Lindberg Jakobsson Magnusson Olofsson "
    "Lindström Lindqvist Lindgren Berg Axelsson Bergström Lundberg Lind Lundgren Lundqvist "
    "Mattsson Berglund Fredriksson Sandberg Henriksson Forsberg Sjöberg Wallin Ali Mohammed "
    "Engström Eklund Danielsson Lundin Håkansson Björk Bergman Gunnarsson Holm Wikström "
    "Samuelsson Isaksson Fransson Bergqvist Nyström Holmberg Arvidsson Löfgren Söderberg Nyberg "
    "Blomqvist Claesson Nordström Ahmed Hassan Mårtensson Lundström Viklund Björklund Eliasson"
).split()
PLACES = (
    "Björkdal Ekbacken Solhem Tallåsen Lindvreten Sjöstaden Furuhöjd Granlunda Hagaberg "
    "Kvarnbacken Ängslyckan Stenhagen Rosendal Vallby Norrby Söderport Österängen Västerås "
    "Skogsbrynet Bäckby Lövsta Ekeby Sandviken Strandängen Kullen Hammarby Broby Torpa"
).split()
